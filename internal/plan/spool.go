package plan

import (
	"slices"

	"github.com/quern-dev/quern/input"
)

// Spooling (the driver's side is mapreduce/spool.go): a big compressed file
// is decompressed into chunk files as the job runs, and each chunk becomes
// a map task, so that one .gz file keeps every core busy.

// bzip2DecodeWeight is how much more a .bz2 weighs when the plan decides
// whether to spool it: one core decodes bzip2 at about 35 MB/s, a fifth of
// the rate at which word count maps, and a spooled file is decoded on
// every core (internal/parbzip2). Without it a .bz2 of 10 MB, below a
// split, was one task decoded on one core: word count over 16 MiB of text
// as one .bz2 took 0.96x the time of bzcat | wcfast.
const bzip2DecodeWeight = 5

// maxChunks bounds the chunks a spooled file is expected to give, so that
// a tiny --split-size cannot turn one big file into millions of tasks.
const maxChunks = 10_000

// spoolSplits takes from splits the compressed files that one task would
// map on one core while the others idle, and returns them as spool tasks,
// with the splits left. A file is spooled when it is read by lines
// (input.Spoolable), the job has two workers or more, and the file weighs
// more than a split (bzip2DecodeWeight times more for a .bz2) and more
// than a worker's share of the whole job; a folder of many compressed
// files keeps every core busy by itself.
func spoolSplits(splits []input.Split, totalCost int64, workers int, splitSize int64) (spools []input.Task, rest []input.Split) {
	spoolable := func(s input.Split) bool {
		c := input.Cost(s, 0)
		decode := c
		if s.File.Compression == input.Bzip2 {
			decode *= bzip2DecodeWeight
		}
		return workers >= 2 && input.Spoolable(s.File) && decode > splitSize && c > totalCost/int64(workers)
	}
	if !slices.ContainsFunc(splits, spoolable) {
		return nil, splits // the common case: no copy of a folder's splits
	}
	rest = make([]input.Split, 0, len(splits))
	for _, s := range splits {
		if spoolable(s) {
			spools = append(spools, input.Task{Splits: []input.Split{s}})
			continue
		}
		rest = append(rest, s)
	}
	return spools, rest
}

// ChunkSizes are the chunk sizes of spooled split s (input.SpoolOptions):
// up to the split size, or for a file that would give fewer than two
// chunks a worker a share of its work that gives two, from an eighth of
// it, so that the first chunk is ready to map soon after the job starts.
func ChunkSizes(s input.Split, splitSize int64, workers int) (first, size int64) {
	cost := input.Cost(s, 0)
	size = max(min(splitSize, cost/int64(2*max(workers, 1))), 64<<10, cost/maxChunks)
	return min(size, max(size/8, 64<<10)), size
}
