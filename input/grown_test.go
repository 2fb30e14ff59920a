package input

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// appendTo appends s to the file at path, as a program writing a log does.
func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(s)
	must(t, err)
	must(t, f.Close())
}

// readRecords reads the lines of every split, in order, through
// OpenRecords as a map task does, and says whether any found its file
// grown.
func readRecords(t *testing.T, splits []Split) (lines []string, grown bool, err error) {
	t.Helper()
	for _, s := range splits {
		r, err := OpenRecords(s)
		if err != nil {
			return lines, grown, err
		}
		for rec, ok := r.Next(); ok; rec, ok = r.Next() {
			lines = append(lines, string(rec.Value))
		}
		err = r.Err()
		grown = grown || r.(interface{ Grown() bool }).Grown()
		must(t, r.Close())
		if err != nil {
			return lines, grown, err
		}
	}
	return lines, grown, nil
}

// numbered is n lines "line 0" … "line n-1", each with its newline.
func numbered(from, n int) (text string, lines []string) {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	return b.String(), lines
}

// A log being written grows while the job reads it: every split reads
// what was planned, the line the planned end cuts in two is read whole,
// and what was appended after it is left, whether the file was cut into
// splits (Expand opened it: its first and last bytes are checked) or is one
// small split (Expand named it without opening it).
func TestGrownFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lines   int
		guessed bool
	}{
		{"cut into splits", 4000, false},
		{"one small split, not opened by Expand", 50, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			text, want := numbered(0, tc.lines)
			// The writer is in the middle of a line when the job plans.
			must(t, os.WriteFile(path, []byte(text+"half a li"), 0o644))
			want = append(want, "half a line, finished later")
			files, err := ExpandWith([]string{path}, ExpandOptions{GuessUpTo: 1 << 20 * int64(btoi(tc.guessed))})
			must(t, err)
			// Windows opens every file (guessesSmallFiles): there the
			// small file has an EdgeSum too.
			if f := files[0]; f.Guessed != (tc.guessed && guessesSmallFiles) || (f.EdgeSum != 0) == f.Guessed {
				t.Fatalf("Expand gave %+v; the test wants Guessed %v, with an EdgeSum only if opened", f, tc.guessed)
			}
			splitSize := files[0].Size / 3
			if tc.guessed {
				splitSize = 4 << 20 // as plan.Inputs guesses: up to a quarter of it
			}
			splits, err := Plan(files, splitSize)
			must(t, err)
			if tc.guessed != (len(splits) == 1) {
				t.Fatalf("%d splits", len(splits))
			}

			// Unchanged: as planned, the last line cut where the file ends.
			got, grown, err := readRecords(t, splits)
			must(t, err)
			if grown || got[len(got)-1] != "half a li" || len(got) != len(want) {
				t.Fatalf("unchanged file: grown %v, %d lines ending %q", grown, len(got), got[len(got)-1])
			}

			more, _ := numbered(tc.lines, 100)
			appendTo(t, path, "ne, finished later\n"+more)
			got, grown, err = readRecords(t, splits)
			must(t, err)
			if !grown || !slices.Equal(got, want) {
				t.Fatalf("grown %v; read %d lines ending %q, want the %d planned ones ending %q",
					grown, len(got), got[len(got)-1], len(want), want[len(want)-1])
			}

			// A split opened while the file grows on: the same lines.
			lr, err := Open(splits[len(splits)-1])
			must(t, err)
			appendTo(t, path, more)
			part, err := readAll(t, lr)
			must(t, err)
			if last := part[len(part)-1].text; last != want[len(want)-1] {
				t.Fatalf("the last split read on to %q", last)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A file truncated and written again past its old size is no log that
// grew: a split reading it would mix two versions. Where Expand took the
// file's first and last bytes it tells, and the reader fails.
func TestRewrittenLongerFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite func(old string) string
	}{
		{"new beginning", func(old string) string { return "NEW " + old + "tail\n" }},
		// The first bytes as before, a line changed in the middle,
		// lines added: the planned last bytes moved.
		{"same beginning", func(old string) string {
			return old[:len(old)/2] + "an edited line\n" + old[len(old)/2:] + "tail\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "export.csv.txt")
			text, _ := numbered(0, 4000)
			must(t, os.WriteFile(path, []byte(text), 0o644))
			files, err := Expand([]string{path})
			must(t, err)
			splits, err := Plan(files, files[0].Size/3)
			must(t, err)
			must(t, os.WriteFile(path, []byte(tc.rewrite(text)), 0o644))
			_, _, err = readRecords(t, splits)
			wantChanged(t, err, path, "rewritten, not appended to", true)
		})
	}
}

// A compressed file that grew is a stream that ends elsewhere: refused as
// any change is.
func TestGrownCompressedFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log.gz")
	text, _ := numbered(0, 100)
	must(t, os.WriteFile(path, compress(t, Gzip, []byte(text)), 0o644))
	files, err := Expand([]string{path})
	must(t, err)
	splits, err := Plan(files, 1<<20)
	must(t, err)
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	_, err = zw.Write([]byte("one more line\n"))
	must(t, err)
	must(t, zw.Close())
	appendTo(t, path, member.String())
	_, _, err = readRecords(t, splits)
	wantChanged(t, err, path, "size", true)
}

// A file removed since the plan is a ChangedError, whichever way it is
// read: a small file the plan did not open, a file cut into splits, a
// whole-file record, a file read ahead in a burst. Every ChangedError
// matches ErrChanged, by which a map task refuses its input at once.
func TestRemovedFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lines     int
		guess     bool
		format    string
		splitSize int64
	}{
		{"small, not opened by the plan", 50, true, "", 1 << 20},
		{"cut into splits", 4000, false, "", 8 << 10},
		{"whole file", 50, false, "wholefile", 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gone.txt")
			text, _ := numbered(0, tc.lines)
			must(t, os.WriteFile(path, []byte(text), 0o644))
			files, err := ExpandWith([]string{path}, ExpandOptions{GuessUpTo: 1 << 20 * int64(btoi(tc.guess))})
			must(t, err)
			if tc.format != "" {
				files[0].Format, err = ParseFormat(tc.format)
				must(t, err)
			}
			splits, err := Plan(files, tc.splitSize)
			must(t, err)
			must(t, os.Remove(path))
			for _, open := range []func() (RecordReader, error){
				func() (RecordReader, error) { return OpenRecords(splits[len(splits)-1]) },
				func() (RecordReader, error) { return NewPrefetcher(splits).OpenRecords(0) },
			} {
				r, err := open()
				if err == nil {
					// A whole file is read by Next.
					for _, ok := r.Next(); ok; _, ok = r.Next() {
					}
					err = r.Err()
					r.Close()
				}
				wantChanged(t, err, path, "(removed)", true)
				if !errors.Is(err, ErrChanged) {
					t.Errorf("%v does not match ErrChanged", err)
				}
			}
		})
	}
}

// A change that no later look can undo matches ErrChanged, and a map task
// refuses its input at once; a file as long as planned with a new
// modification time may be a log in the instant of an append (the time is
// set before the size), so its ChangedError does not match, and the task
// is retried.
func TestChangedSettled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(path string, planned time.Time)
		settled bool
	}{
		{"modified, as long as planned", func(path string, planned time.Time) {
			must(t, os.Chtimes(path, planned.Add(time.Second), planned.Add(time.Second)))
		}, false},
		{"shorter", func(path string, _ time.Time) { must(t, os.Truncate(path, 100)) }, true},
		{"replaced", func(path string, _ time.Time) {
			text, _ := numbered(0, 4000)
			must(t, os.WriteFile(path+".new", []byte(text), 0o644))
			must(t, os.Rename(path+".new", path))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log.txt")
			text, _ := numbered(0, 4000)
			must(t, os.WriteFile(path, []byte(text), 0o644))
			files, err := Expand([]string{path})
			must(t, err)
			splits, err := Plan(files, 8<<10)
			must(t, err)
			tc.change(path, files[0].ModTime)
			_, _, err = readRecords(t, splits)
			var ce *ChangedError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ChangedError", err)
			}
			if got := errors.Is(err, ErrChanged); got != tc.settled {
				t.Errorf("%v: errors.Is(err, ErrChanged) = %v, want %v", err, got, tc.settled)
			}
		})
	}
}
