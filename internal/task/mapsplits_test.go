package task

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/compresstest"
)

// TestMapSplitsContaining reads a folder of every kind of line input with
// and without a filter: the filter hands fn exactly the Text and JSONL
// records that hold its bytes, and every CSV record (a format it cannot
// search), and the counts of what was read are the same both ways.
func TestMapSplitsContaining(t *testing.T) {
	dir := t.TempDir()
	var text strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&text, "line %d GET /%d\" %d ok\r\n", i, i%7, 200+i%400)
	}
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	write("a.txt", []byte(text.String()))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte(text.String()[:50000]))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	write("b.txt.gz", gz.Bytes())
	write("c.jsonl", []byte("\xef\xbb\xbf{\"a\":\"\\\" 50\"}\n{\"b\":1}\n{\"c\":\"\\\" 502\"}"))
	write("d.csv", []byte("h1,h2\n1,\" 503\"\n2,x\n"))
	for i := range 40 {
		write(fmt.Sprintf("e%02d.txt", i), []byte(fmt.Sprintf("tiny %d\n\" 50%d\nno", i, i%10)))
	}
	files, err := input.Expand([]string{dir})
	require.NoError(t, err)
	splits, err := input.Plan(files, 16<<10) // lines cross the splits' ends
	require.NoError(t, err)
	require.Greater(t, len(splits), 50)
	task := input.Task{Splits: splits}

	collect := func(sub []byte) ([]string, ReadCounts) {
		var got []string
		read, err := MapSplitsContaining(context.Background(), task, sub, func(rec Record) error {
			got = append(got, fmt.Sprintf("%s:%d %q", rec.File, rec.Offset, rec.Value))
			return nil
		})
		require.NoError(t, err)
		return got, read
	}
	sub := []byte(`" 50`)
	all, readAll := collect(nil)
	var want []string
	for _, r := range all {
		line := r[strings.IndexByte(r, ' ')+1:]
		if strings.Contains(r, "d.csv:") || strings.Contains(line, `\" 50`) {
			want = append(want, r)
		}
	}
	got, read := collect(sub)
	require.Equal(t, want, got)
	require.Less(t, len(got), len(all)/5, "the filter passed most records over")
	require.Equal(t, int64(len(all)-len(got)), read.Filtered, "the records passed over")
	read.Filtered = 0
	require.Equal(t, readAll, read, "records and bytes read")
	every, _ := collect([]byte("ok\r\n"))
	require.Equal(t, all, every, "bytes no line can hold filter nothing")
	gzLines := strings.Count(text.String()[:50000], "\n") + 1 // the last one cut short
	require.Equal(t, int64(5000+gzLines+3+2+40*3), readAll.Records, "every line, and the CSV file's two rows")
}

// TestGiveUp: a map task asked to split after any number of records of
// any of its splits keeps part of its input and gives up the rest, and
// what it goes on to read and what the rest reads are, between them, every
// record of the task once. It cuts within a plain file of lines and
// between splits otherwise.
func TestGiveUp(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	var text strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&text, "line %d of a\n", i)
	}
	write("a.txt", []byte(text.String()))
	write("b.txt.gz", compresstest.Compress(t, input.Gzip, []byte(text.String()[:20000])))
	write("c.csv", []byte("h\n1\n2\n3\n"))
	for i := range 5 {
		write(fmt.Sprintf("d%d.txt", i), []byte(strings.Repeat(fmt.Sprintf("tiny %d\n", i), 50)))
	}
	files, err := input.Expand([]string{dir})
	require.NoError(t, err)
	splits, err := input.Plan(files, 1<<20)
	require.NoError(t, err)
	task := input.Task{Splits: splits}

	read := func(tk input.Task) []string {
		var got []string
		_, err := MapSplits(context.Background(), tk, func(rec Record) error {
			got = append(got, fmt.Sprintf("%s:%d", filepath.Base(rec.File), rec.Offset))
			return nil
		})
		require.NoError(t, err)
		return got
	}
	want := read(task)
	within, between := 0, 0
	for k := range task.Splits {
		for _, before := range []int{0, 1, 10, 2000} {
			got := read(input.Task{Splits: task.Splits[:k]})
			r, err := input.OpenRecords(task.Splits[k])
			require.NoError(t, err)
			next := func() bool {
				rec, ok := r.Next()
				if ok {
					got = append(got, fmt.Sprintf("%s:%d", filepath.Base(task.Splits[k].File.Path), rec.Offset))
				}
				return ok
			}
			for range before {
				next()
			}
			kept := input.Task{Splits: slices.Clone(task.Splits)}
			answer := giveUp(&kept, k, r, 1)
			for next() {
			}
			require.NoError(t, r.Err())
			require.NoError(t, r.Close())
			got = append(got, read(input.Task{Splits: kept.Splits[k+1:]})...)
			if answer != nil {
				var g GaveUp
				require.NoError(t, json.Unmarshal(answer, &g))
				cutKept, rest, ok := task.CutAt(g.Split, g.At)
				require.True(t, ok, "split %d after %d records: %+v", k, before, g)
				require.Equal(t, cutKept, kept)
				got = append(got, read(rest)...)
				if g.At > task.Splits[g.Split].Start {
					within++
				} else {
					between++
				}
			} else {
				require.Equal(t, task.Splits, kept.Splits)
			}
			require.Equal(t, want, got, "split %d (%v) after %d records", k, task.Splits[k], before)
		}
	}
	require.Positive(t, within)
	require.Positive(t, between)
}
