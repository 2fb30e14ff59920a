package invertedindex_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/invertedindex"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

func TestInvertedIndexMatchesReference(t *testing.T) {
	dir := t.TempDir()
	var inputs []string
	for i := range 5 {
		inputs = append(inputs, apptest.Generate(t, dir, fmt.Sprintf("doc%d.txt", i), "text", 70<<10, uint64(i+1)))
	}
	odd := filepath.Join(dir, oddName)
	require.NoError(t, os.WriteFile(odd, []byte("Ωmega straße the\x00the\xffzebra\n"), 0o644))
	inputs = append(inputs, odd)

	// Reference: whole files, bytes.FieldsFunc over runes.
	want := map[string][]string{}
	for _, p := range inputs {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, w := range bytes.FieldsFunc(data, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if !seen[string(w)] {
				seen[string(w)] = true
				want[string(w)] = append(want[string(w)], p)
			}
		}
	}
	for w := range want {
		slices.Sort(want[w])
	}

	_, parts := apptest.Run(t, invertedindex.Job, []string{dir}, apptest.Small, nil)
	got := map[string][]string{}
	for _, part := range parts {
		var prev string
		for _, line := range apptest.Lines([][]byte{part}) {
			f := strings.SplitN(line, "\t", 3)
			require.Len(t, f, 3, line)
			require.Greater(t, f[0], prev)
			prev = f[0]
			var docs []string
			require.NoError(t, json.Unmarshal([]byte(f[2]), &docs), line)
			require.Equal(t, strconv.Itoa(len(docs)), f[1], line)
			got[f[0]] = docs
		}
	}
	require.Equal(t, len(want), len(got))
	require.Equal(t, want, got)
	require.Equal(t, []string{inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], odd}, got["the"])
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "a.txt", `dir/"q"\b`, "tab\there\nnl\r\x01\x1f", "日本語"} {
		var back string
		require.NoError(t, json.Unmarshal(invertedindex.AppendJSONString(nil, s), &back))
		require.Equal(t, s, back)
	}
}

// TestLatin1Warns: an index of Latin-1 text warns, as wordcount does,
// that bytes that are not UTF-8 cut its words; of UTF-8 it does not.
func TestLatin1Warns(t *testing.T) {
	dir := t.TempDir()
	latin1 := filepath.Join(dir, "latin1.txt")
	require.NoError(t, os.WriteFile(latin1, []byte("caf\xe9\n"), 0o644))
	res, _ := apptest.Run(t, invertedindex.Job, []string{latin1}, apptest.Small, nil)
	require.Equal(t, []string{"invertedindex: non_utf8_bytes 1: " + wordcount.NonUTF8Warning}, res.Warnings)

	utf8 := filepath.Join(t.TempDir(), "utf8.txt")
	require.NoError(t, os.WriteFile(utf8, []byte("café\n"), 0o644))
	res, _ = apptest.Run(t, invertedindex.Job, []string{utf8}, apptest.Small, nil)
	require.Empty(t, res.Warnings)
}
