package input

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/quern-dev/quern/internal/bytesize"
	"github.com/quern-dev/quern/internal/sysmem"
)

// A line is held whole in a LineReader's buffer, which doubles while the
// line has no end; so a file that is not made of lines (one JSON document
// of gigabytes, a binary file read as text, a dump without newlines) had
// a worker grow until the kernel's OOM killer took it, attempt after
// attempt, and the job failed with "signal: killed" and advice about the
// sort buffer. The workers of a job share the memory they may use (a
// cgroup's limit covers them all, and so does the machine's), and each may
// be holding a long line at once. So a line may take at most a quarter of
// that memory divided by the number of workers (MaxLine; with the default
// 2 workers an eighth): the buffer doubles no further than MaxLine, and
// while a line is copied into the grown buffer both are alive, at most
// twice MaxLine, so all the workers' lines stay under half of it. A line
// that fills a buffer of MaxLine fails its split with ErrLineTooLong,
// which the driver takes as a refusal of the input: the job fails at once,
// naming the file and the line's offset.

// ErrLineTooLong is wrapped by the error of a LineReader that meets a line
// longer than MaxLine, and of a CSV reader whose record, a quoted field
// open over many lines, is.
var ErrLineTooLong = errors.New("input: line too long")

// MaxLineEnv names the environment variable that sets MaxLine, a size as
// the flags read one (1048576, 64MiB, 1GiB), for a process and the workers
// it starts (0: no bound).
const MaxLineEnv = "QUERN_MAX_LINE_BYTES"

// WorkersEnv names the environment variable in which a driver tells its
// worker processes how many of them it runs; unset (a process that is no
// worker, a Beam worker) counts as the default 2.
const WorkersEnv = "QUERN_WORKERS"

// MaxLine returns the most bytes of one line a LineReader holds: the
// value of MaxLineEnv if it is set and a size, else a quarter of the
// memory the process may use (sysmem.Available) divided by the workers
// sharing it (WorkersEnv), else 0 for no bound.
// A buffer never shrinks below its first size, 256 KiB, so shorter lines
// are read whatever the bound.
func MaxLine() int64 {
	n, _ := maxLine()
	return n
}

// CheckMaxLineEnv reports a MaxLineEnv that is set and is no size, for a
// driver to refuse before any task runs (MaxLine would fall back to the
// workers' share of memory).
func CheckMaxLineEnv() error {
	if s := os.Getenv(MaxLineEnv); s != "" {
		if _, err := bytesize.Parse(s); err != nil {
			return fmt.Errorf("%s: %w", MaxLineEnv, err)
		}
	}
	return nil
}

// maxLine is MaxLine and what set it, for the error, computed once;
// tests set their own.
var maxLine = sync.OnceValues(computeMaxLine)

// computeMaxLine returns the bound and what set it. A variable that is no
// size is not ignored in silence: the error of a line too long says so.
func computeMaxLine() (int64, string) {
	workers := 2
	if n, err := strconv.Atoi(os.Getenv(WorkersEnv)); err == nil && n > 0 {
		workers = n
	}
	share := fmt.Sprintf("a quarter of the memory the workers may use, over %d workers", workers)
	ofMemory := fmt.Sprintf("%s; %s=SIZE sets it", share, MaxLineEnv)
	if s := os.Getenv(MaxLineEnv); s != "" {
		n, err := bytesize.Parse(s)
		if err == nil {
			return n, "set by " + MaxLineEnv
		}
		ofMemory = fmt.Sprintf("%s, since %s: %v", share, MaxLineEnv, err)
	}
	if mem, _, ok := sysmem.Available(); ok {
		return mem / (4 * int64(workers)), ofMemory
	}
	return 0, ""
}

// lineTooLong is the error of a LineReader whose line from offset off has
// filled held bytes without an end, held being at least MaxLine.
func lineTooLong(s Split, off int64, held int) error {
	return tooLong(s, fmt.Sprintf("the line at offset %d goes on past %s without a newline; a worker holds a line whole",
		off, bytesize.Approx(int64(held))), "is the file made of lines? (a binary file, or one JSON document, is not)")
}

// recordTooLong is the error of a CSV record from offset off whose quoted
// field stays open over more than MaxLine bytes of lines.
func recordTooLong(s Split, off int64, held int) error {
	return tooLong(s, fmt.Sprintf("the record at offset %d goes on over its lines past %s inside a quoted field; a worker holds a record whole",
		off, bytesize.Approx(int64(held))), "is a quote not closed?")
}

// tooLong wraps ErrLineTooLong with what went on too long in split s, the
// bound and what set it, and a hint.
func tooLong(s Split, what, hint string) error {
	most, setBy := maxLine()
	return fmt.Errorf("%w: split %v: %s, at most %s (%s): %s", ErrLineTooLong, s, what, bytesize.Approx(most), setBy, hint)
}
