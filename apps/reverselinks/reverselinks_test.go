package reverselinks_test

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/reverselinks"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

var (
	hidden = regexp.MustCompile(`(?s)<!--.*?-->|<script>.*?</script>|<style>.*?</style>`)
	href   = regexp.MustCompile(`(?i)<a\s[^>]*href="([^"]*)"`)
)

// reference decodes pages with encoding/json, finds links with a regexp and
// resolves them with net/url.
func reference(t *testing.T, paths []string) (map[string][]string, int64) {
	want := map[string][]string{}
	bad := apptest.ReadPages(t, paths, func(page, html string) {
		base, err := url.Parse(page)
		require.NoError(t, err)
		for _, m := range href.FindAllStringSubmatch(hidden.ReplaceAllString(html, ""), -1) {
			u, err := base.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
			require.NoError(t, err)
			if u.Scheme != "https" {
				continue
			}
			u.Fragment = ""
			target := u.String()
			if !slices.Contains(want[target], page) {
				want[target] = append(want[target], page)
			}
		}
	})
	for k := range want {
		slices.Sort(want[k])
	}
	return want, bad
}

func TestReverseLinksMatchesReference(t *testing.T) {
	dir := t.TempDir()
	// Two files of awkward hand-made pages, and one from `quern gen html`.
	inputs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"),
		apptest.Generate(t, dir, "gen.jsonl", "html", 300<<10, 5)}
	apptest.WritePages(t, inputs[0], 500, 1)
	apptest.WritePages(t, inputs[1], 300, 2)
	want, bad := reference(t, inputs)
	require.Greater(t, len(want), 300)

	res, parts := apptest.Run(t, reverselinks.Job, inputs, apptest.Small, nil)
	got := map[string][]string{}
	for _, part := range parts {
		var prev string
		for _, line := range apptest.Lines([][]byte{part}) {
			target, list, ok := strings.Cut(line, "\t")
			require.True(t, ok, line)
			require.Greater(t, target, prev)
			prev = target
			var sources []string
			require.NoError(t, json.Unmarshal([]byte(list), &sources), line)
			got[target] = sources
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, bad, res.Counters[reverselinks.MalformedPages])
	require.Equal(t, int64(4), bad)
}

// TestReduceCopiesRetainedValues pins that Reduce copies the previous source
// it keeps to drop duplicates: with a view instead, each source would look
// like a repeat of the one before.
func TestReduceCopiesRetainedValues(t *testing.T) {
	var got []string
	emit := func(k []byte, v reverselinks.Sources) { got = append(got, string(k)+" "+v.String()) }
	sources := apptest.ScribbledValues("https://a/", "https://a/", "https://b/", "https://c/", "https://c/", "https://d/")
	require.NoError(t, reverselinks.Job.Reduce(nil, []byte("https://t/"), sources, emit))
	require.Equal(t, []string{`https://t/ ["https://a/","https://b/","https://c/","https://d/"]`}, got)
}
