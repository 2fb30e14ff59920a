// Command wcplain counts words the way a Go user would write it first: read
// lines with bufio.Scanner, split them into words, count in a map.
//
//	wcplain INPUT OUTPUT
//
// A word is a maximal run of Unicode letters, as in Quern's wordcount app.
// Output lines are "word<TAB>count" in no particular order.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unicode"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wcplain INPUT OUTPUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "wcplain:", err)
		os.Exit(1)
	}
}

func run(input, output string) error {
	in, err := os.Open(input)
	if err != nil {
		return err
	}
	defer in.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		for _, w := range strings.FieldsFunc(sc.Text(), func(r rune) bool { return !unicode.IsLetter(r) }) {
			counts[w]++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", input, err)
	}
	out, err := os.Create(output)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	for w, n := range counts {
		fmt.Fprintf(bw, "%s\t%d\n", w, n)
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return fmt.Errorf("write %s: %w", output, err)
	}
	return out.Close()
}
