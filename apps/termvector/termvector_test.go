package termvector_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/internal/page"
	"github.com/quern-dev/quern/apps/termvector"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

var (
	hidden = regexp.MustCompile(`(?s)<!--.*?-->|<script>.*?</script>|<style>.*?</style>|<[^>]*>|&[a-zA-Z0-9#]+;`)
)

// reference decodes pages with encoding/json and net/url, drops markup with
// a regexp, and counts whole words lower-cased by strings.ToLower.
func reference(t *testing.T, paths []string, top int) (map[string]string, int64) {
	counts := map[string]map[string]int{}
	var bad int64
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var pg struct{ URL, HTML *string }
			if json.Unmarshal(sc.Bytes(), &pg) != nil || pg.URL == nil || pg.HTML == nil {
				bad++
				continue
			}
			u, err := url.Parse(*pg.URL)
			require.NoError(t, err)
			host := strings.ToLower(u.Hostname())
			text := hidden.ReplaceAllString(*pg.HTML, " ")
			for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
				if counts[host] == nil {
					counts[host] = map[string]int{}
				}
				counts[host][strings.ToLower(w)]++
			}
		}
		require.NoError(t, f.Close())
	}
	want := map[string]string{}
	type tc struct {
		term string
		n    int
	}
	for host, m := range counts {
		var all []tc
		for term, n := range m {
			all = append(all, tc{term, n})
		}
		slices.SortFunc(all, func(a, b tc) int {
			if a.n != b.n {
				return b.n - a.n
			}
			return strings.Compare(a.term, b.term)
		})
		var parts []string
		for _, e := range all[:min(top, len(all))] {
			parts = append(parts, fmt.Sprintf("%s:%d", e.term, e.n))
		}
		want[host] = strings.Join(parts, ",")
	}
	return want, bad
}

func TestTermVectorMatchesReference(t *testing.T) {
	dir := t.TempDir()
	// Two files of awkward hand-made pages, and one from `quern gen html`.
	inputs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"),
		apptest.Generate(t, dir, "gen.jsonl", "html", 300<<10, 6)}
	apptest.WritePages(t, inputs[0], 500, 3)
	apptest.WritePages(t, inputs[1], 300, 4)
	for _, top := range []int{3, termvector.DefaultTop} {
		want, bad := reference(t, inputs, top)
		require.Greater(t, len(want), 100)
		params := map[string]string{"top": fmt.Sprint(top)}
		if top == termvector.DefaultTop {
			params = nil
		}
		res, parts := apptest.Run(t, termvector.Job, inputs, apptest.Small, params)
		got := map[string]string{}
		for _, line := range apptest.Lines(parts) {
			host, terms, ok := strings.Cut(line, "\t")
			require.True(t, ok, line)
			got[host] = terms
		}
		require.Equal(t, want, got)
		require.Equal(t, bad, res.Counters[termvector.MalformedPages])
	}
}

func TestTerms(t *testing.T) {
	var p page.Parser
	var got []string
	p.Terms([]byte(`<p class="Hidden">Hello, WORLD&amp;Straße</p><!-- no --><SCRIPT>no</SCRIPT><style x>no</style>x1y&#233;z`), func(term []byte) {
		got = append(got, string(term))
	})
	require.Equal(t, []string{"hello", "world", "straße", "x", "y", "z"}, got)
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://A.Example/x":        "a.example",
		"http://u:p@h.example:80/":   "h.example",
		"HTTPS://h.example?q":        "h.example",
		"https://[::1]:8080/x":       "[::1]",
		"ftp://h.example/":           "",
		"https:///x":                 "",
		"https://bad host.example/x": "",
	} {
		h, ok := page.Host(nil, []byte(in))
		require.Equal(t, want != "", ok, in)
		require.Equal(t, want, string(h), in)
	}
}
