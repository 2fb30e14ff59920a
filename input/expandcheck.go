package input

import (
	"context"
	"fmt"
	"io/fs"
	"runtime"
	"sync"

	"github.com/quern-dev/quern/internal/pathfmt"
)

// The per-file work of Expand, on several goroutines.
//
// Expand stats every file it lists, opens it and reads its first bytes
// (see [Sniff]). Over a folder of tens of thousands of small files that is
// most of planning, about 30 µs a file, and planning runs before any task:
// on a machine of two cores, one of them idled through it. The walk of the
// directories stays in one goroutine, so that which files are found, and
// the errors of the walk, are as before; each file it finds is handed to a
// checker, whose goroutines stat and sniff the files side by side.

// maxCheckers bounds the goroutines of a checker: a stat and a small read
// are system calls on cached metadata and pages, so more goroutines than
// cores gain nothing.
const maxCheckers = 8

// fileCheck is one file found by the walk, to be checked.
type fileCheck struct {
	seq       int    // the order the walk found it in
	slot      *found // where its result goes, in checker.found
	path, arg string
	// fi describes the file (a stat that followed links), or is nil for a
	// directory entry that is no link, whose lstat is then the check's,
	// by its name in dir.
	fi  fs.FileInfo
	ent fs.DirEntry
	dir *dirHandle // held for the check, which releases it
}

// checker checks the files of one Expand. Its zero value is ready; add
// starts its goroutines with the first file, and wait stops them.
type checker struct {
	ctx context.Context // ExpandContext's, if any: once done, no file is checked
	// queue carries the files to the goroutines checkBatch at a time,
	// gathered in batch: a channel operation a file, and the wake-up of
	// a goroutine that often came with it, were a twentieth of a plan's
	// work over a folder of tiny files.
	queue chan []fileCheck
	batch []fileCheck
	wg    sync.WaitGroup
	n     int // files added
	// guessUpTo is ExpandOptions.GuessUpTo.
	guessUpTo int64

	// found holds the checked files in the order the walk found them,
	// in blocks of foundBlock that add allocates before it hands out
	// their slots (fileCheck.slot): each goroutine writes its own slots
	// without a lock, and the files of a large folder are not copied
	// again and again into a growing slice. A slot whose file failed
	// its check stays zero.
	found [][]found

	mu     sync.Mutex
	err    error // the error of the earliest failing file
	errSeq int
}

// foundBlock is how many files one block of checker.found holds.
const foundBlock = 4096

// checkBatch is how many files the checker's goroutines take at a time.
const checkBatch = 16

// add hands file c to the checker's goroutines, or checks it at once on a
// machine with one core.
func (k *checker) add(c fileCheck) {
	c.seq = k.n
	if k.n%foundBlock == 0 {
		k.found = append(k.found, make([]found, foundBlock))
	}
	c.slot = &k.found[len(k.found)-1][k.n%foundBlock]
	k.n++
	workers := min(runtime.GOMAXPROCS(0), maxCheckers)
	if workers < 2 {
		k.record(c)
		return
	}
	if k.queue == nil {
		k.queue = make(chan []fileCheck, 256/checkBatch)
		k.wg.Add(workers)
		for range workers {
			go func() {
				defer k.wg.Done()
				for batch := range k.queue {
					for _, c := range batch {
						k.record(c)
					}
				}
			}()
		}
	}
	if k.batch == nil {
		k.batch = make([]fileCheck, 0, checkBatch)
	}
	k.batch = append(k.batch, c)
	if len(k.batch) == checkBatch {
		k.queue <- k.batch
		k.batch = nil
	}
}

// wait waits until every file added is checked, stops the goroutines and
// returns the error of the earliest file that failed (in the walk's
// order), so that the error does not depend on timing.
func (k *checker) wait() error {
	if k.queue != nil {
		if len(k.batch) > 0 {
			k.queue <- k.batch
			k.batch = nil
		}
		close(k.queue)
		k.wg.Wait()
		k.queue = nil
	}
	return k.err
}

// record checks c and keeps the result.
func (k *checker) record(c fileCheck) {
	defer c.dir.release()
	k.mu.Lock()
	failed := k.err != nil && k.errSeq < c.seq
	k.mu.Unlock()
	if failed {
		return // the job is refused anyway; spare the system calls
	}
	var f found
	var err error
	if k.ctx != nil && k.ctx.Err() != nil {
		err = fmt.Errorf("input: checking the files of argument %s stopped: %w", pathfmt.Quote(c.arg), k.ctx.Err())
	} else {
		f, err = check(c, k.guessUpTo)
	}
	if err != nil {
		k.mu.Lock()
		if k.err == nil || c.seq < k.errSeq {
			k.err, k.errSeq = err, c.seq
		}
		k.mu.Unlock()
		return
	}
	*c.slot = f
}

// appendFound appends the files checked, in the order the walk found
// them, to all. It is called after wait returned no error.
func (k *checker) appendFound(all []found) []found {
	for i, block := range k.found {
		all = append(all, block[:min(foundBlock, k.n-i*foundBlock)]...)
	}
	return all
}

// notAFile says why an input must be a file, and what to do instead.
const notAFile = "Quern plans its splits from the file's size and its workers open the file themselves, " +
	"so it must be a file; write the stream to one first (a .gz is read as it is)"

// check stats the file c if the walk did not, opens it to see that it can
// be read, and sniffs its compression; a small file read by lines that
// the process may read is not opened, its compression guessed from its
// name (ExpandOptions.GuessUpTo).
func check(c fileCheck, guessUpTo int64) (found, error) {
	fi := c.fi
	if fi == nil {
		var err error
		if fi, err = c.dir.lstat(c.ent, c.path); err != nil {
			return found{}, fmt.Errorf("input: argument %s: %w", pathfmt.Quote(c.arg), err)
		}
	}
	path := c.path
	if !fi.Mode().IsRegular() {
		// Opening a FIFO would block, so check the type before opening.
		what := "a " + fi.Mode().Type().String()
		switch t := fi.Mode().Type(); {
		case t&fs.ModeNamedPipe != 0:
			what = "a pipe (a named pipe, or a shell's <(...))"
		case t&fs.ModeCharDevice != 0:
			what = "a character device"
		case t&fs.ModeSocket != 0:
			what = "a socket"
		case t&fs.ModeDevice != 0:
			what = "a device"
		}
		return found{}, fmt.Errorf("input: argument %s: %s is %s (%w): %s", pathfmt.Quote(c.arg), path, what, ErrNotRegular, notAFile)
	}
	// An empty file is opened too: a file of /proc or /sys has a size of
	// 0 and content, and planned by its size it would be read as empty.
	if guessUpTo > 0 && fi.Size() > 0 && fi.Size() <= guessUpTo && FormatOf(path).lines() && mayRead(fi) {
		id, haveID := statID(path, fi)
		return found{
			File: File{Path: path, Size: fi.Size(), Compression: CompressionOf(path), Format: FormatOf(path),
				ModTime: fi.ModTime(), ID: id, Guessed: true},
			key: keyFrom(path, id, haveID),
		}, nil
	}
	head, edges, id, haveID, err := sniffFile(path, fi)
	if err != nil {
		return found{}, fmt.Errorf("input: argument %s: %w", pathfmt.Quote(c.arg), err)
	}
	if fi.Size() == 0 && len(head) > 0 {
		return found{}, fmt.Errorf("input: argument %s: %s has content but a size of 0, as the files of /proc and /sys have (%w): %s",
			pathfmt.Quote(c.arg), path, ErrNotRegular, notAFile)
	}
	comp, err := decideCompression(path, head)
	if err != nil {
		return found{}, fmt.Errorf("input: argument %s: %w", pathfmt.Quote(c.arg), err)
	}
	if comp != None {
		edges = 0 // a compressed file that grew is refused (checkLines)
	}
	return found{
		File: File{Path: path, Size: fi.Size(), Compression: comp, Format: FormatOf(path), ModTime: fi.ModTime(), ID: id, EdgeSum: edges},
		key:  keyFrom(path, id, haveID),
	}, nil
}
