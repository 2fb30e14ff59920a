package input

import (
	"slices"
	"strconv"
)

// Task is the input of one map task: one or more splits, read one after
// another in order. A task of many small files costs one task's fixed costs
// (a process hand-off, a run file, a merge input) instead of one per file.
type Task struct {
	Splits []Split
}

// DefaultOpenCost is what [Pack] charges for each split on top of its
// bytes, the way Spark's spark.sql.files.openCostInBytes does: the work of
// opening a file, setting up its reader and closing it, expressed as bytes
// that could have been read meanwhile. Spark's 4 MiB fits object stores
// whose opens take tens of milliseconds; a local file costs about 50 µs of
// CPU in all (the driver's stat and sniff, the worker's open, read, fstat
// and close), about 2 KB of word count. The charge mostly sets how many
// files share a task, and fewer tasks mean fewer run files and less
// combined output to shuffle: word count over 6,576 files of 10 KiB with
// --split-size 8MiB took 2.26 CPU-s with 2 KiB (10 tasks) against 2.53
// with 16 KiB (21 tasks); earlier, 16 KiB had beaten 64 KiB the same way.
const DefaultOpenCost = 2 << 10

// compressedWeight is how many bytes of work Pack charges per byte of a
// compressed file: text compresses about 3 to 1 with gzip or zstd, and all
// of it is decompressed and mapped.
const compressedWeight = 3

// Cost is what a split weighs when Pack fills a task: its bytes (three
// times the bytes on disk for a compressed file, which is read whole and
// expanded; once for UTF-16 text, which decodes to about as many bytes of
// UTF-8 as it has characters) plus openCost. Columnar splits count row groups or batches, not
// bytes, so Pack never combines them; their cost is only used for progress.
func Cost(s Split, openCost int64) int64 {
	return satAdd(satMul(s.Len(), weight(s.File)), openCost)
}

// WorkBytes is the bytes of work file f stands for, as [Cost] weighs them
// without the open cost: its size, or three times that if it is
// compressed. A plan sizes its tasks by this rather than by the bytes on
// disk, which would make a folder of .gz files three times as many tasks
// of a third of the work each.
func WorkBytes(f File) int64 {
	return satMul(f.Size, weight(f))
}

// weight is how many bytes of work one byte of f's stands for.
func weight(f File) int64 {
	if c := f.Compression; c != None && c != UTF16LE && c != UTF16BE {
		return compressedWeight
	}
	return 1
}

// Pack combines splits, in order, into tasks that cost about target each
// (see [Cost]), like Hadoop's CombineFileInputFormat and Spark's file scan:
// a task takes the next split while its cost stays within target, and a
// split that is itself at least target (a full split of a big file) ends up
// alone. So the many small files of a folder, and the tails of big files,
// share tasks, while the full splits of big files keep one task each.
//
// Packing is next-fit in the plan's order, so the result depends on the
// splits alone (the same plan gives the same tasks), neighbouring files
// share a task, and every pair of consecutive tasks costs more than target:
// there are fewer than 2×(total cost)/target + 1 tasks.
//
// Columnar splits (Parquet row groups, Arrow batches and streams) are not
// packed: each is a task of its own. A target below 1 is taken as 1.
//
// The tasks' Splits are consecutive pieces of splits itself, not copies
// (each capped at its end, so an append to one cannot overwrite the
// next): over a folder of 100,000 tiny files, copying them one by one
// into growing slices was a tenth of planning.
func Pack(splits []Split, target, openCost int64) []Task {
	target = max(target, 1)
	return pack(splits, openCost, 0, func(int64, int) int64 { return target })
}

// taperFloor is how far PackTapered lets the last tasks shrink: to
// 1/taperFloor of the target. A task has a cost that does not shrink with
// it (its run file, a merge input per reducer, and for a word count the
// output of its combiner, which holds most of the vocabulary however few
// bytes it read).
const taperFloor = 8

// PackTapered is [Pack] for a phase that workers run side by side, taking
// tasks in order as they free: where the splits left cost less than
// workers tasks of target, each task takes its share of what is left
// (left/workers), down to target/8, as guided self-scheduling does
// (Polychronopoulos and Kuck, 1987). The phase then ends with every worker
// finishing a small task at about the same time, instead of one of them
// mapping a whole task alone: word count over 64 .gz files (13 tasks on 2
// workers) left a core idle for 2.9% of its map phase on average, 1.1%
// when tapered (16 tasks; docs/architecture.md has more). Splits that
// cost less than target/8 in all, at the end, join the task before them
// rather than make one of their own. It makes at most about 6×workers
// tasks more than Pack. A job whose map task has a fixed cost of its own
// packs with PackEven instead.
func PackTapered(splits []Split, target, openCost int64, workers int) []Task {
	target = max(target, 1)
	floor := max(target/taperFloor, 1)
	n := int64(max(workers, 1))
	return pack(splits, openCost, floor, func(left int64, _ int) int64 {
		return min(target, max(left/n, floor))
	})
}

// evenSlack is how far over its target PackEven lets a task grow, so
// that an input a little over a whole number of targets (a folder of
// 256 MiB of books: 256 MiB of text and an open cost per file, at a
// target of 64 MiB) makes that number of tasks, not one more.
const evenSlack = 8 // a task may cost target + target/evenSlack

// PackEven is [Pack] for a phase that workers run side by side, taking
// tasks in order as they free: it makes a multiple of workers tasks of
// equal cost, each about target, so that every worker maps as much and
// they finish together. Packing is next-fit in order, each task's target
// being the cost still to pack over the tasks still to make, at most
// target + target/8; a split costlier than that (a full split of a big
// file) is a task of its own, and a columnar split always is.
//
// It is for a job whose map task has a fixed cost of its own, such as
// word count's (about 18 ms: its combiner flushes most of the vocabulary,
// writes a run, adds a merge input), for which PackTapered's small last
// tasks cost more than the idle time they save. Word count, the two ways
// alternated 5 times on this 2-core machine (wall and CPU medians): a
// folder of 655 books (256 MiB) 7 tapered tasks 0.86 s / 1.62 CPU-s, 4
// even tasks 0.80 s / 1.54; 64 .gz files 9 tasks 1.29 s / 2.47, 6 tasks
// 1.25 s / 2.39; 26,214 tiny files 7 and 6 tasks, 1.07 and 1.11 s (no
// difference); 1 GiB of books (19 and 16 tasks) no difference, 256 .gz
// files (26 and 22) 4.77 and 4.47 s (3 runs). For sort and invertedindex,
// whose tasks cost little of their own, the taper was 3-5% faster. What
// the taper also does better: a worker slowed by another process
// finishes up to a task later than the others under PackEven.
func PackEven(splits []Split, target, openCost int64, workers int) []Task {
	target = max(target, 1)
	var total int64
	for _, s := range splits {
		total = satAdd(total, Cost(s, openCost))
	}
	w := int64(max(workers, 1))
	most := satAdd(target, target/evenSlack)
	n := total / most
	if total%most != 0 {
		n++
	}
	n = max((n+w-1)/w*w, 1)
	// Never over most: the last tasks' share of what is left grows with
	// what the tasks before them left over, and where that is a whole
	// split (a big file's, of the split size) it gets a task of its own.
	return pack(splits, openCost, 0, func(left int64, made int) int64 {
		return min(max(left/max(n-int64(made), 1), 1), most)
	})
}

// pack is next-fit packing whose target for each task is targetFor of the
// cost of the splits not yet in a task and of the number of tasks made;
// see Pack. It starts no task for last splits that cost less than minLast
// in all.
func pack(splits []Split, openCost, minLast int64, targetFor func(left int64, made int) int64) []Task {
	var left int64
	for _, s := range splits {
		left = satAdd(left, Cost(s, openCost))
	}
	var tasks []Task
	start := 0 // splits[start:i] is the task being filled
	var cost int64
	target := targetFor(left, 0)
	cut := func(end int) {
		if end > start {
			tasks = append(tasks, Task{Splits: splits[start:end:end]})
		}
		start, cost = end, 0
		target = targetFor(left, len(tasks))
	}
	for i, s := range splits {
		c := Cost(s, openCost)
		if s.File.Format.columnar() {
			cut(i)
			left -= c
			cut(i + 1)
			continue
		}
		if i > start && satAdd(cost, c) > target && left >= minLast {
			cut(i)
		}
		cost = satAdd(cost, c)
		left -= c
	}
	cut(len(splits))
	return tasks
}

// CutAt cuts t where its i-th split reaches at, in the split's units:
// kept reads the splits before i and split i up to at, rest reads split i
// from at on and the splits after it. A cut at split i's Start gives the
// split whole to rest; a cut within a split gives each part the lines
// that start in it (a split's rule), so only a plain byte range of a
// line format may be cut there. ok is false, and t is not cut, for a cut
// outside t, or within a split that cannot be cut.
func (t Task) CutAt(i int, at int64) (kept, rest Task, ok bool) {
	if i < 0 || i >= len(t.Splits) {
		return t, Task{}, false
	}
	s := t.Splits[i]
	switch {
	case at == s.Start:
		if i == 0 {
			return t, Task{}, false // rest would be all of t
		}
		return Task{Splits: slices.Clip(t.Splits[:i])}, Task{Splits: slices.Clone(t.Splits[i:])}, true
	case at < s.Start || at >= s.End || !CanCut(s):
		return t, Task{}, false
	}
	kept = Task{Splits: slices.Clone(t.Splits[:i+1])}
	kept.Splits[i].End = at
	rest = Task{Splits: slices.Clone(t.Splits[i:])}
	rest.Splits[0].Start = at
	if s.Chunk != "" {
		rest.Splits[0].ChunkOffset = s.ChunkOffset + at - s.Start
	}
	return kept, rest, true
}

// CanCut reports whether s may be cut within: a byte range of Text or
// JSONL lines in a plain file or in a chunk of a spooled one. A
// compressed file is read from its start, and a CSV file read whole may
// hold a quoted field across lines.
func CanCut(s Split) bool {
	return s.Unit == Bytes && (s.Chunk != "" || s.File.Compression == None) &&
		(s.File.Format == Text || s.File.Format == JSONL)
}

// Len returns the units the task stands for: the sum of its splits' Len.
func (t Task) Len() int64 {
	var n int64
	for _, s := range t.Splits {
		n += s.Len()
	}
	return n
}

// Bytes returns the file bytes the task reads: the sum of the Len of its
// byte-range splits (compressed bytes for a compressed file). Row-group and
// batch splits count 0, having no byte size, and so do chunks of a
// compressed file (Split.Chunk), whose bytes Spool read.
func (t Task) Bytes() int64 {
	var n int64
	for _, s := range t.Splits {
		if s.Unit == Bytes && s.Chunk == "" {
			n += s.Len()
		}
	}
	return n
}

// describedSplits is how many splits String names before it elides the
// middle of a long list.
const describedSplits = 3

// String names the task's input the way errors and reports do: the split
// itself for a task of one split ("a.txt:[0,100)"), else the count and the
// splits, the middle of a long list elided:
// "3 files: a.txt:[0,100) b.txt:[0,7) c.txt:[0,12)" or
// "400 files: a:[0,12) b:[0,12) … z:[0,9)".
func (t Task) String() string {
	if len(t.Splits) == 1 {
		return t.Splits[0].String()
	}
	b := strconv.AppendInt(nil, int64(len(t.Splits)), 10)
	b = append(b, " files:"...)
	for i, s := range t.Splits {
		if len(t.Splits) > describedSplits+1 && i == describedSplits-1 {
			b = append(b, " …"...)
			s = t.Splits[len(t.Splits)-1]
			b = append(b, ' ')
			b = append(b, s.String()...)
			break
		}
		b = append(b, ' ')
		b = append(b, s.String()...)
	}
	return string(b)
}

func satAdd(a, b int64) int64 {
	if a > 1<<63-1-b {
		return 1<<63 - 1
	}
	return a + b
}

func satMul(a, k int64) int64 {
	if a > (1<<63-1)/k {
		return 1<<63 - 1
	}
	return a * k
}

// CountSplits returns how many splits [Plan] cuts files into, without
// cutting them, so that a caller can refuse a plan too large to hold
// before it is made. A file that is not cut by bytes (compressed, read
// whole, or columnar) counts one split (Plan may cut a columnar file into more, by row groups or
// batches, but never more than it holds). A split size below 1 is taken
// as 1.
func CountSplits(files []File, splitSize int64) int64 {
	splitSize = max(splitSize, 1)
	var n int64
	for _, f := range files {
		switch {
		case f.Size <= 0:
		case !f.splittable():
			n++
		default:
			n += byteSplits(f.Size, splitSize)
		}
	}
	return n
}
