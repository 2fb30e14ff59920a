package all

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/mapreduce"
)

// firstLine opens every input of TestLineAppsReadCSVAndTSVAsText: a line
// whose words, pattern and edge occur nowhere else, so an app that drops
// it as a header answers differently.
const firstLine = "Zyzzyvafirst GET /zyzzyva"

// TestLineAppsReadCSVAndTSVAsText runs every app that reads its records as
// lines (Job.LineInput, pipeline.ReadLines) on files named .csv and .tsv
// that have no header, as a word count's corpus, a log or an edge list
// does, and checks that each answers as it does on the same bytes named
// .txt: the first line is a record, where the CSV and TSV formats that the
// names select would have taken it for a header and dropped it unseen.
// An explicit --input-format still reads the first line as a header.
func TestLineAppsReadCSVAndTSVAsText(t *testing.T) {
	cases := []struct {
		app, kind string
		first     string // the input's first line
		params    map[string]string
		want      string // a line of the .txt output that needs the first line
	}{
		{app: "wordcount", kind: "text", first: firstLine, want: "Zyzzyvafirst\t1"},
		{app: "grep", kind: "text", first: firstLine, params: map[string]string{"pattern": "Zyzzyva"}, want: "Zyzzyvafirst"},
		{app: "sort", kind: "text", first: firstLine, params: map[string]string{"records": "lines"}, want: firstLine},
		{app: "invertedindex", kind: "text", first: firstLine, want: "zyzzyva\t1"},
		{app: "urlcount", kind: "logs", first: `10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /zyzzyva HTTP/1.1" 200 5`, want: "/zyzzyva\t1"},
		{app: "topwords", kind: "text", first: strings.Repeat("Zyzzyvafirst ", 100000), params: map[string]string{"k": "3"}, want: "Zyzzyvafirst\t100000"},
		{app: "pagerank", kind: "graph", first: "18446744073709551615\t1", params: map[string]string{"iterations": "2"}, want: "18446744073709551615\t0.15"},
	}
	for _, c := range cases {
		t.Run(c.app, func(t *testing.T) {
			dir := t.TempDir()
			body, err := os.ReadFile(apptest.Generate(t, dir, "gen", c.kind, 24<<10, 3))
			require.NoError(t, err)
			content := append([]byte(c.first+"\n"), body...)
			// The same file name but for the extension, in folders of their
			// own: invertedindex and grep print the file's path.
			run := func(ext, format string) string {
				sub := filepath.Join(dir, ext+format)
				require.NoError(t, os.Mkdir(sub, 0o755))
				in := filepath.Join(sub, "in."+ext)
				require.NoError(t, os.WriteFile(in, content, 0o644))
				out := runAppFormat(t, c.app, []string{in}, c.params, format)
				// invertedindex prints it in JSON, where a Windows path's
				// backslashes are doubled.
				out = strings.ReplaceAll(out, strings.ReplaceAll(in, `\`, `\\`), "IN")
				return strings.ReplaceAll(out, in, "IN")
			}
			want := run("txt", "")
			require.Contains(t, want, c.want, "the test's first line does not show in the .txt output")
			require.Equal(t, want, run("csv", ""), ".csv")
			require.Equal(t, want, run("tsv", ""), ".tsv")
			if c.app == "wordcount" {
				// Asked for by name, TSV's first line is its header.
				require.NotContains(t, run("tsv", "tsv"), c.want, "--input-format tsv")
			}
		})
	}
}

// runAppFormat runs app on inputs read in inputFormat ("" for by name),
// with text output, and returns its output.
func runAppFormat(t *testing.T, app string, inputs []string, params map[string]string, inputFormat string) string {
	t.Helper()
	out, err := os.ReadFile(runAppWith(t, app, mapreduce.Config{Inputs: inputs, Params: params, InputFormat: inputFormat}, "text"))
	require.NoError(t, err)
	return string(out)
}
