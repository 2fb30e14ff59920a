// Command invindex builds an inverted index in one goroutine, the way a Go
// user would without a framework: read each document whole, split it into
// words, and keep, per word, the documents it occurs in.
//
//	invindex DIR OUTPUT
//
// Every file in DIR is one document, named DIR/NAME as Quern's
// invertedindex app names it; a word is a maximal run of Unicode letters.
// Output lines are "WORD<TAB>N<TAB>DOCS", DOCS a JSON array of the N
// document names in sorted order; lines come in no particular order.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: invindex DIR OUTPUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "invindex:", err)
		os.Exit(1)
	}
}

func run(dir, output string) error {
	ents, err := os.ReadDir(dir) // sorted by name, so doc numbers sort as names do
	if err != nil {
		return err
	}
	var docs []string
	index := map[string][]int{}
	for _, d := range ents {
		if d.IsDir() {
			continue
		}
		name := filepath.Join(dir, d.Name())
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		doc := len(docs)
		docs = append(docs, name)
		for _, w := range strings.FieldsFunc(string(data), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if list := index[w]; len(list) == 0 || list[len(list)-1] != doc {
				index[w] = append(list, doc)
			}
		}
	}
	out, err := os.Create(output)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	for w, list := range index {
		names := make([]string, len(list))
		for i, d := range list {
			names[i] = docs[d]
		}
		js, err := json.Marshal(names)
		if err != nil {
			out.Close()
			return err
		}
		fmt.Fprintf(bw, "%s\t%d\t%s\n", w, len(names), js)
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", output, err)
	}
	return out.Close()
}
