package input

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/sysmem"
)

// setMaxLine makes MaxLine n until the test ends.
func setMaxLine(t *testing.T, n int64) {
	old := maxLine
	maxLine = func() (int64, string) { return n, "set by the test" }
	t.Cleanup(func() { maxLine = old })
}

// TestLineLongerThanMaxLine: a line that would grow the buffer past
// MaxLine fails the split with ErrLineTooLong, naming the file and the
// line's offset, after the lines before it were read; a line that needs
// less is read whole, in a plain and in a gzip file.
func TestLineLongerThanMaxLine(t *testing.T) {
	setMaxLine(t, 1<<20)
	dir := t.TempDir()
	long := strings.Repeat("x", 3<<20) // no newline for 3 MiB
	fine := strings.Repeat("y", 900<<10)
	for _, c := range []struct {
		name    string
		content string
		want    []string // the lines read before the error, or all
		failAt  int64    // the failing line's offset, or -1
	}{
		{"long.txt", "first\n" + long + "\nlast\n", []string{"first"}, 6},
		{"fine.txt", "first\n" + fine + "\nlast\n", []string{"first", fine, "last"}, -1},
		{"long.txt.gz", "first\n" + long + "\nlast\n", []string{"first"}, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			data := []byte(c.content)
			comp := None
			if strings.HasSuffix(c.name, ".gz") {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(data)
				require.NoError(t, zw.Close())
				data, comp = buf.Bytes(), Gzip
			}
			require.NoError(t, os.WriteFile(path, data, 0o644))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			s := Split{File: File{Path: path, Size: fi.Size(), Compression: comp, ModTime: fi.ModTime()}, Start: 0, End: fi.Size()}
			lr, err := Open(s)
			require.NoError(t, err)
			defer lr.Close()
			var got []string
			for {
				line, _, ok := lr.Next()
				if !ok {
					break
				}
				got = append(got, string(line))
			}
			require.Equal(t, c.want, got)
			if c.failAt < 0 {
				require.NoError(t, lr.Err())
				return
			}
			err = lr.Err()
			require.True(t, errors.Is(err, ErrLineTooLong), "error: %v", err)
			require.ErrorContains(t, err, path)
			require.ErrorContains(t, err, "the line at offset 6 goes on past")
			require.ErrorContains(t, err, "at most 1.0 MiB (set by the test)")
		})
	}
}

// TestBufferGrowsNoFurtherThanMaxLine: under a bound that is no power of
// two of the first buffer (1.5 MiB), a line of 1.2 MiB is read in a buffer
// of at most the bound, not of the next doubling (2 MiB, which a worker
// per line would have held beyond its share), and a line of 1.6 MiB is
// refused.
func TestBufferGrowsNoFurtherThanMaxLine(t *testing.T) {
	const bound = 3 << 19 // 1.5 MiB
	setMaxLine(t, bound)
	for _, c := range []struct {
		size int
		ok   bool
	}{{1200 << 10, true}, {1600 << 10, false}} {
		line := strings.Repeat("x", c.size)
		path := writeFile(t, fmt.Sprintf("line-%d.txt", c.size), []byte(line+"\nlast\n"))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		lr, err := Open(Split{File: File{Path: path, Size: fi.Size(), ModTime: fi.ModTime()}, End: fi.Size()})
		require.NoError(t, err)
		got, _, ok := lr.Next()
		require.Equal(t, c.ok, ok, "a line of %d bytes under a bound of %d", c.size, bound)
		require.LessOrEqual(t, len(lr.buf), bound, "the buffer grew past the bound")
		if ok {
			require.Equal(t, line, string(got))
		} else {
			require.ErrorIs(t, lr.Err(), ErrLineTooLong)
		}
		lr.Close()
	}
}

// TestMaxLineFromTheEnvironment: MaxLineEnv, a size, overrides the bound
// computed from memory and the workers sharing it (WorkersEnv, 2 when
// unset or no number); a value that is no size leaves the bound to
// memory, and the error of a long line says why.
func TestMaxLineFromTheEnvironment(t *testing.T) {
	mem, _, ok := sysmem.Available()
	ofMemory := func(workers int64) int64 {
		if !ok {
			return 0
		}
		return mem / (4 * workers)
	}
	for _, c := range []struct {
		env, workers string
		want         int64
		setBy        string
	}{
		{"12345", "", 12345, "set by " + MaxLineEnv},
		{"0", "", 0, "set by " + MaxLineEnv},
		{"1MiB", "16", 1 << 20, "set by " + MaxLineEnv},
		{"", "", ofMemory(2), "over 2 workers; " + MaxLineEnv + "=SIZE sets it"},
		{"", "6", ofMemory(6), "over 6 workers; " + MaxLineEnv + "=SIZE sets it"},
		{"", "none", ofMemory(2), "over 2 workers"},
		{"lots", "3", ofMemory(3), "over 3 workers, since " + MaxLineEnv + `: size "lots": want a whole number`},
	} {
		t.Setenv(MaxLineEnv, c.env)
		t.Setenv(WorkersEnv, c.workers)
		got, setBy := computeMaxLine()
		require.Equal(t, c.want, got, "%s=%q %s=%q", MaxLineEnv, c.env, WorkersEnv, c.workers)
		if got != 0 {
			require.Contains(t, setBy, c.setBy, "%s=%q %s=%q", MaxLineEnv, c.env, WorkersEnv, c.workers)
		}
	}
}

// TestCSVRecordLongerThanMaxLine: a quote not closed in a CSV file read as
// one split (a .gz) holds its record open over the following lines; past
// MaxLine the split fails with ErrLineTooLong naming the record's offset,
// instead of holding the rest of the file.
func TestCSVRecordLongerThanMaxLine(t *testing.T) {
	setMaxLine(t, 1<<20)
	var data bytes.Buffer
	data.WriteString("a,b\n1,2\n3,\"open\n")
	for data.Len() < 3<<20 {
		data.WriteString("4,5\n")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data.Bytes())
	require.NoError(t, zw.Close())
	path := writeFile(t, "open.csv.gz", gz.Bytes())
	files, err := Expand([]string{path})
	require.NoError(t, err)
	splits, err := Plan(files, 64<<20)
	require.NoError(t, err)
	require.Len(t, splits, 1)
	r, err := OpenRecords(splits[0])
	require.NoError(t, err)
	defer r.Close()
	var rows []string
	for {
		rec, ok := r.Next()
		if !ok {
			break
		}
		rows = append(rows, string(rec.Value))
	}
	require.Equal(t, []string{"1,2"}, rows, "the records before the open quote")
	err = r.Err()
	require.True(t, errors.Is(err, ErrLineTooLong), "error: %v", err)
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "the record at offset 8 goes on over its lines past")
}
