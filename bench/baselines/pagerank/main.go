// Command pagerank ranks the nodes of a graph in one goroutine, with the
// whole edge list in memory: the single thread whose COST Quern's pagerank
// app is measured against (McSherry, Isard and Murray, HotOS 2015).
//
//	pagerank [-iterations N] INPUT OUTPUT
//
// INPUT is an edge list ("src<TAB>dst" lines of decimal node ids, as
// `quern gen graph` writes) or a directory of them. Output lines are
// "node<TAB>rank", one per node that appears in an edge, in no particular
// order, the rank printed in the shortest form that reads back exactly.
//
// The ranks are those of Quern's pagerank app (docs/guide.md): every node
// starts at 1, and each iteration sets
//
//	rank(v) = 0.15 + 0.85 × Σ rank(u)/outdegree(u) over the edges u→v
//
// counting a repeated edge as many times as it appears. A node without
// out-edges (dangling) passes its rank to no one, as in Spark's
// SparkPageRank example: the ranks then sum to less than the node count.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	iterations := flag.Int("iterations", 20, "rounds of rank propagation")
	flag.Parse()
	if flag.NArg() != 2 || *iterations < 1 {
		fmt.Fprintln(os.Stderr, "usage: pagerank [-iterations N] INPUT OUTPUT")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *iterations); err != nil {
		fmt.Fprintln(os.Stderr, "pagerank:", err)
		os.Exit(1)
	}
}

// graph is an edge list with dense node indexes: ids[i] is node i's id, and
// the edges are kept as two parallel slices in input order.
type graph struct {
	index    map[uint64]int32
	ids      []uint64
	src, dst []int32
}

func (g *graph) node(id uint64) int32 {
	if i, ok := g.index[id]; ok {
		return i
	}
	i := int32(len(g.ids))
	g.index[id] = i
	g.ids = append(g.ids, id)
	return i
}

func run(in, out string, iterations int) error {
	files, err := inputFiles(in)
	if err != nil {
		return err
	}
	g := &graph{index: map[uint64]int32{}}
	for _, f := range files {
		if err := g.read(f); err != nil {
			return err
		}
	}
	ranks := rank(g, iterations)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	for i, id := range g.ids {
		line = strconv.AppendUint(line[:0], id, 10)
		line = append(line, '\t')
		line = strconv.AppendFloat(line, ranks[i], 'g', -1, 64)
		line = append(line, '\n')
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rank runs the iterations over the edges sorted by source (a compressed
// sparse row layout), so that each source's share is computed once.
func rank(g *graph, iterations int) []float64 {
	n := len(g.ids)
	start := make([]int32, n+1) // edges of u: targets[start[u]:start[u+1]]
	for _, s := range g.src {
		start[s+1]++
	}
	for i := range n {
		start[i+1] += start[i]
	}
	targets := make([]int32, len(g.dst))
	fill := append([]int32(nil), start[:n]...)
	for i, s := range g.src {
		targets[fill[s]] = g.dst[i]
		fill[s]++
	}
	g.src, g.dst = nil, nil

	ranks, sums := make([]float64, n), make([]float64, n)
	for i := range ranks {
		ranks[i] = 1
	}
	for range iterations {
		clear(sums)
		for u := range n {
			edges := targets[start[u]:start[u+1]]
			if len(edges) == 0 {
				continue
			}
			share := ranks[u] / float64(len(edges))
			for _, v := range edges {
				sums[v] += share
			}
		}
		for v, s := range sums {
			ranks[v] = 0.15 + 0.85*s
		}
	}
	return ranks
}

func (g *graph) read(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadSlice('\n')
		if text := bytes.TrimLeft(line, " \t\r\n"); len(text) > 0 && text[0] != '#' && text[0] != '%' { // not blank, not a comment
			src, dst, perr := parseEdge(line)
			if perr != nil {
				return fmt.Errorf("%s:%d: %w", path, lineNo, perr)
			}
			g.src = append(g.src, g.node(src))
			g.dst = append(g.dst, g.node(dst))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// parseEdge reads "src<TAB>dst" (or the two ids separated by spaces).
func parseEdge(line []byte) (src, dst uint64, err error) {
	fields := bytes.Fields(line)
	if len(fields) != 2 {
		return 0, 0, fmt.Errorf("want two node ids, got %q", line)
	}
	if src, err = strconv.ParseUint(string(fields[0]), 10, 64); err != nil {
		return 0, 0, err
	}
	dst, err = strconv.ParseUint(string(fields[1]), 10, 64)
	return src, dst, err
}

// inputFiles is the file itself, or a directory's files (not recursive).
func inputFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	return files, nil
}
