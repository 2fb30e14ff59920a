package wordcount_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// TestLatin1Warns: a word count over Latin-1 text cuts its accented words
// at the bytes that are not UTF-8 ("café" counted as "caf"), which looks
// like an answer; the job counts those bytes and ends with a warning that
// says what to do, on both engines. UTF-8 text, accents and U+FFFD
// included, gives none.
func TestLatin1Warns(t *testing.T) {
	dir := t.TempDir()
	latin1 := filepath.Join(dir, "latin1.txt")
	require.NoError(t, os.WriteFile(latin1, []byte("caf\xe9 na\xefve caf\xe9\nplain words\n"), 0o644))
	res, parts := apptest.Run(t, wordcount.Job, []string{latin1}, apptest.Small, nil)
	require.ElementsMatch(t, []string{"caf\t2", "na\t1", "ve\t1", "plain\t1", "words\t1"}, apptest.Lines(parts))
	require.EqualValues(t, 3, res.Counters[wordcount.NonUTF8Bytes])
	require.Equal(t, []string{"wordcount: non_utf8_bytes 3: " + wordcount.NonUTF8Warning}, res.Warnings)

	utf8 := filepath.Join(t.TempDir(), "utf8.txt")
	require.NoError(t, os.WriteFile(utf8, []byte("café naïve \uFFFD日本\n"), 0o644))
	res, _ = apptest.Run(t, wordcount.Job, []string{utf8}, apptest.Small, nil)
	require.Zero(t, res.Counters[wordcount.NonUTF8Bytes])
	require.Empty(t, res.Warnings)
}
