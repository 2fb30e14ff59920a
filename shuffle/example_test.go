package shuffle_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// Two map tasks each wrote a run with two partitions; reducer 1 merges its
// segments and sees each of its keys once, with the values of both runs in
// run order. ("apple" hashes to partition 0, reducer 0's.)
func Example() {
	dir, err := os.MkdirTemp("", "shuffle-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	var p shuffle.HashPartitioner
	const reducers = 2
	runs := [][]string{{"apple", "cherry", "fig"}, {"apple", "banana", "fig"}}
	var segs []shuffle.Segment
	for i, words := range runs {
		path := filepath.Join(dir, fmt.Sprintf("map%d.run", i))
		w, err := spill.Create(path, spill.Options{Partitions: reducers, Compression: spill.DefaultCompression})
		if err != nil {
			fmt.Println(err)
			return
		}
		// A run is sorted by (partition, key): write partition by
		// partition.
		for part := range reducers {
			for _, word := range words {
				if p.Partition([]byte(word), reducers) == part {
					if err := w.Add(part, []byte(word), []byte(fmt.Sprint("map", i))); err != nil {
						fmt.Println(err)
						return
					}
				}
			}
		}
		if _, err := w.Close(); err != nil {
			fmt.Println(err)
			return
		}
		segs = append(segs, shuffle.Segment{Path: path, Partition: 1})
	}

	it, _, err := shuffle.OpenPartition(segs, shuffle.MergeOptions{TempDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	g := shuffle.NewGrouper(it)
	for g.NextGroup() {
		fmt.Printf("%s:", g.Key())
		for v := range g.Values() {
			fmt.Printf(" %s", v)
		}
		fmt.Println()
	}
	if err := g.Err(); err != nil {
		fmt.Println(err)
	}
	if err := g.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// banana: map1
	// cherry: map0
	// fig: map0 map1
}
