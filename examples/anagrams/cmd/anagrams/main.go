// Command anagrams finds sets of anagrams in text files with Quern:
//
//	go run ./examples/anagrams/cmd/anagrams -o out book1.txt book2.txt
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/quern-dev/quern/examples/anagrams"
	"github.com/quern-dev/quern/mapreduce"
)

func main() {
	// First: in a worker process forked by the local engine, Main serves
	// tasks and exits; in the driver it returns at once.
	mapreduce.Main()

	out := flag.String("o", "anagrams-out", "output directory")
	workers := flag.Int("workers", 0, "worker processes (default: CPUs)")
	minWords := flag.String("min-words", "2", "smallest set of anagrams to print")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: anagrams [-o DIR] FILE...")
		os.Exit(2)
	}

	res, err := mapreduce.Run(context.Background(), anagrams.Job, mapreduce.Config{
		Inputs:  flag.Args(),
		Output:  *out,
		Workers: *workers,
		Params:  map[string]string{"min-words": *minWords},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "anagrams:", err)
		os.Exit(1)
	}
	fmt.Printf("%d sets of anagrams in %d lines, written to %s in %s\n",
		res.Counters["anagram_sets"], res.Counters["lines"], res.Output, res.Timings.Total.Round(1e6))
}
