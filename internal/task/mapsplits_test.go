package task

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
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
