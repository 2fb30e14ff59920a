package input_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/input"
)

// A driver expands the --input arguments and plans splits; each map task
// then reads the lines of its split. Here a 12-byte file is cut into
// 5-byte splits: the line "bbbb" starts in the first split and is read by
// it, past the split's end, and the second split skips its tail.
func Example() {
	dir, err := os.MkdirTemp("", "input-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "part-0"), []byte("aa\nbbbb\r\ncc"), 0o644); err != nil {
		log.Fatal(err)
	}
	files, err := input.Expand([]string{dir})
	if err != nil {
		log.Fatal(err)
	}
	splits, err := input.Plan(files, 5)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range splits {
		lr, err := input.Open(s)
		if err != nil {
			log.Fatal(err)
		}
		for line, off, ok := lr.Next(); ok; line, off, ok = lr.Next() {
			fmt.Printf("split %d [%d,%d): %q at %d\n", s.Index, s.Start, s.End, line, off)
		}
		if err := lr.Err(); err != nil {
			log.Fatal(err)
		}
		if err := lr.Close(); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// split 0 [0,5): "aa" at 0
	// split 0 [0,5): "bbbb" at 3
	// split 1 [5,10): "cc" at 9
}
