package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func files(t *testing.T, contents ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var names []string
	for i, c := range contents {
		name := filepath.Join(dir, "part-"+string(rune('a'+i)))
		require.NoError(t, os.WriteFile(name, []byte(c), 0o644))
		names = append(names, name)
	}
	return names
}

func TestWordCountFormatsAgree(t *testing.T) {
	tab, err := wordCountAnswer(tabCount)(files(t, "the\t3\nand\t1\n", "zebra\t2\n"))
	require.NoError(t, err)
	// uniq -c pads counts, and tr's leading newline becomes an empty word.
	uniq, err := wordCountAnswer(uniqCount)(files(t, "      1 \n      1 and\n      3 the\n      2 zebra\n"))
	require.NoError(t, err)
	require.Equal(t, tab.Digest, uniq.Digest)
	require.Equal(t, int64(3), tab.Count)
	require.Equal(t, "3 distinct words, 6 in all", tab.Summary)

	other, err := wordCountAnswer(tabCount)(files(t, "the\t3\nand\t1\nzebra\t1\n"))
	require.NoError(t, err)
	require.NotEqual(t, tab.Digest, other.Digest)
	dup, err := wordCountAnswer(tabCount)(files(t, "the\t2\nthe\t1\nand\t1\nzebra\t2\n"))
	require.NoError(t, err)
	require.NotEqual(t, tab.Digest, dup.Digest, "a word split over two lines is wrong")

	_, err = wordCountAnswer(tabCount)(files(t, "the 3\n"))
	require.ErrorContains(t, err, "not a word count line")
	_, err = wordCountAnswer(tabCount)(files(t, "the\tx\n"))
	require.ErrorContains(t, err, "bad count")
}

func TestSortedAnswer(t *testing.T) {
	rec := func(key, rest string) string { return key + rest + "\r\n" }
	a, err := sortedAnswer(files(t, rec("AAAAAAAAAA", "  1"), rec("BBBBBBBBBB", "  2")+rec("CCCCCCCCCC", "  3")))
	require.NoError(t, err)
	require.Equal(t, int64(3), a.Count)
	// Line ends do not matter; equal keys may come in either order.
	b, err := sortedAnswer(files(t, "AAAAAAAAAA  1\nBBBBBBBBBB  2\nCCCCCCCCCC  3\n"))
	require.NoError(t, err)
	require.Equal(t, a.Digest, b.Digest)
	x, err := sortedAnswer(files(t, "KKKKKKKKKK  1\nKKKKKKKKKK  2\n"))
	require.NoError(t, err)
	y, err := sortedAnswer(files(t, "KKKKKKKKKK  2\nKKKKKKKKKK  1\n"))
	require.NoError(t, err)
	require.Equal(t, x.Digest, y.Digest)
	// A lost, a changed or a misplaced record is caught.
	c, err := sortedAnswer(files(t, "AAAAAAAAAA  1\nCCCCCCCCCC  3\n"))
	require.NoError(t, err)
	require.NotEqual(t, a.Digest, c.Digest)
	d, err := sortedAnswer(files(t, "AAAAAAAAAA  1\nBBBBBBBBBB  9\nCCCCCCCCCC  3\n"))
	require.NoError(t, err)
	require.NotEqual(t, a.Digest, d.Digest)
	_, err = sortedAnswer(files(t, "AAAAAAAAAA  1\n", "CCCCCCCCCC  3\nBBBBBBBBBB  2\n"))
	require.ErrorContains(t, err, "out of order")
}

func TestGrepAnswers(t *testing.T) {
	b, err := grepAnswer(parseGrepB)(files(t, "0:x 500 y\n120:z 503 w\n"))
	require.NoError(t, err)
	q, err := grepAnswer(parseQuernGrep)(files(t, "/d/a:b.log:120\tz 503 w\n", "/d/a:b.log:0\tx 500 y\n"))
	require.NoError(t, err)
	require.Equal(t, b.Digest, q.Digest)
	c, err := grepCountAnswer(files(t, "2\n"))
	require.NoError(t, err)
	require.Equal(t, b.Count, c.Count)
	_, err = grepAnswer(parseGrepB)(files(t, "no offset\n"))
	require.Error(t, err)
	_, err = grepCountAnswer(files(t, "many\n"))
	require.Error(t, err)
}

func TestEachLineLongLine(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	var got []int
	require.NoError(t, eachLine(files(t, long+"\nshort\r\n"), func(l []byte) error {
		got = append(got, len(l))
		return nil
	}))
	require.Equal(t, []int{3 << 20, 5}, got)
}

func TestHelpers(t *testing.T) {
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	require.Equal(t, "64MiB", formatBytes(64<<20))
	require.Equal(t, "1GiB", formatBytes(1<<30))
	require.Equal(t, "1000B", formatBytes(1000))

	tw := &tailWriter{max: 4}
	tw.Write([]byte("abc"))
	tw.Write([]byte("defg"))
	require.Equal(t, "defg", tw.String())

	p := filepath.Join(t.TempDir(), "rss")
	require.NoError(t, os.WriteFile(p, []byte("Command exited with non-zero status 1\n2048\n"), 0o644))
	require.Equal(t, int64(2048<<10), readTimeRSS(p))
	require.Zero(t, readTimeRSS(filepath.Join(t.TempDir(), "missing")))

	rows := relativeSpeedups([]Row{{MedianSec: 2, Walls: []float64{2, 3}}, {MedianSec: 1, Walls: []float64{1, 2}}, {}}, 2)
	require.Equal(t, []float64{0, 2, 0}, []float64{rows[0].QuernSpeedup, rows[1].QuernSpeedup, rows[2].QuernSpeedup})
	require.Equal(t, []float64{2, 1.5}, rows[1].PairSpeedups)
	require.Nil(t, rows[2].PairSpeedups, "no runs, no pairs")

	// A failed run leaves a system with fewer times than runs: its
	// pairs would compare runs made at different times.
	require.Nil(t, pairRatios([]float64{1, 2}, []float64{1, 2, 3}, 3))
	require.Equal(t, []float64{2, 0.5}, pairRatios([]float64{2, 1}, []float64{1, 2}, 2))

	cells := Row{Workload: "w", System: "s", MedianSec: 2.5, Walls: []float64{2.5, 2, 3.25},
		QuernSpeedup: 1.5, PairSpeedups: []float64{1.5, 1.25, 1.75}, Status: "ok"}.columns()
	require.Equal(t, "2.50 (2.00–3.25)", cells[2])
	require.Equal(t, "1.50× (1.25–1.75)", cells[4])
	one := Row{Workload: "w", System: "s", MedianSec: 2, Walls: []float64{2}, QuernSpeedup: 2, PairSpeedups: []float64{2}}.columns()
	require.Equal(t, []string{"2.00", "2.00×"}, []string{one[2], one[4]}, "one run has no range")
}

func TestIndexAnswer(t *testing.T) {
	a, err := indexAnswer(files(t, "cat\t2\t[\"d/a\",\"d/b\"]\n", "dog\t1\t[\"d/b\"]\n"))
	require.NoError(t, err)
	// The same paths spelled with a JSON escape are the same answer.
	b, err := indexAnswer(files(t, "dog\t1\t[\"d\\/b\"]\ncat\t2\t[\"d/a\",\"d/b\"]\n"))
	require.NoError(t, err)
	require.Equal(t, a.Digest, b.Digest)
	require.Equal(t, "2 words, 3 postings", a.Summary)
	c, err := indexAnswer(files(t, "cat\t1\t[\"d/a\"]\ndog\t1\t[\"d/b\"]\n"))
	require.NoError(t, err)
	require.NotEqual(t, a.Digest, c.Digest)
	_, err = indexAnswer(files(t, "cat\t3\t[\"d/a\"]\n"))
	require.ErrorContains(t, err, "count")
	_, err = indexAnswer(files(t, "cat\t1\td/a\n"))
	require.ErrorContains(t, err, "documents of")
}

// TestRankAnswer checks that ranks agree within the relative tolerance and
// no further, and that a missing or extra node is a different answer.
func TestRankAnswer(t *testing.T) {
	ref, err := rankAnswer(files(t, "1\t0.5\n2\t0.25\n", "3\t0.15\n"))
	require.NoError(t, err)
	require.Equal(t, int64(3), ref.Count)
	close, err := rankAnswer(files(t, "3\t0.15000000000000002\n2\t0.25\n1\t0.49999999999999994\n"))
	require.NoError(t, err)
	require.True(t, close.same(&ref), "ranks that differ in the last bit are the same answer")
	off, err := rankAnswer(files(t, "1\t0.5\n2\t0.2500001\n3\t0.15\n"))
	require.NoError(t, err)
	require.False(t, off.same(&ref), "a rank off by 4e-7 is a different answer")
	fewer, err := rankAnswer(files(t, "1\t0.5\n2\t0.25\n"))
	require.NoError(t, err)
	require.False(t, fewer.same(&ref))
	other, err := rankAnswer(files(t, "1\t0.5\n2\t0.25\n4\t0.15\n"))
	require.NoError(t, err)
	require.False(t, other.same(&ref))
	_, err = rankAnswer(files(t, "1\t0.5\n1\t0.5\n"))
	require.ErrorContains(t, err, "ranked twice")
}

// TestTopAnswer checks that a top-k list is the same answer across part
// files (topk's empty parts included) and a different one in another
// order, and that a line that is no word count is an error.
func TestTopAnswer(t *testing.T) {
	ref, err := topAnswer(files(t, "the\t9\nof\t4\n", "", "and\t4\n"))
	require.NoError(t, err)
	require.Equal(t, int64(3), ref.Count)
	require.Contains(t, ref.Summary, `"the 9"`)
	same, err := topAnswer(files(t, "", "the\t9\nof\t4\nand\t4\n"))
	require.NoError(t, err)
	require.True(t, same.same(&ref))
	swapped, err := topAnswer(files(t, "the\t9\nand\t4\nof\t4\n"))
	require.NoError(t, err)
	require.False(t, swapped.same(&ref), "the order is part of a top-k answer")
	_, err = topAnswer(files(t, "the 9\n"))
	require.ErrorContains(t, err, "not a word<TAB>count line")
}
