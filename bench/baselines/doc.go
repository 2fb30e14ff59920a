// Package baselines holds the hand-written Go programs that `quern bench`
// measures Quern against, one command per subdirectory:
//
//   - wcplain: word count the way a user would first write it
//     (bufio.Scanner lines, strings.FieldsFunc, map[string]int).
//   - wcfast: word count tuned by hand (1 MiB reads, a byte loop, and a map
//     lookup that does not allocate when the word is already counted).
//   - invindex: an inverted index in one goroutine.
//   - pagerank: PageRank over an edge list held in memory (compressed
//     sparse rows), the single thread of the COST comparison.
//
// Each reads one input file and writes its answer to one output file; the
// suite builds them with `go build` into its cache and runs them as
// processes, so that every system is measured the same way.
package baselines
