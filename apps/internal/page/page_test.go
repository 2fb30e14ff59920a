package page

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	var p Parser
	for _, v := range []map[string]any{
		{"url": "https://a.example/", "html": `<a href="x">é "q" \ </a>` + "\n\t\u2028😀"},
		{"n": 1.5, "html": "", "x": []any{map[string]any{"a": "}"}, nil, true}, "url": "u"},
	} {
		line, err := json.Marshal(v)
		require.NoError(t, err)
		u, h, err := p.Parse(line)
		require.NoError(t, err, "%s", line)
		require.Equal(t, v["url"], string(u))
		require.Equal(t, v["html"], string(h))
	}
	for _, bad := range []string{``, `[]`, `{"url":"a"}`, `{"url":"a","html":"b"`, `{"url":"a","html":"b"} x`,
		`{"url":"a","html":"\q"}`, `{"url":"a","html":"\u12"}`, `{"url":"a" "html":"b"}`, `{"url":5,"html":"b"}`} {
		_, _, err := p.Parse([]byte(bad))
		require.ErrorIs(t, err, ErrSyntax, bad)
	}
}

func TestLinks(t *testing.T) {
	html := `<a href="https://x.example/a#f">a</a> <A  HREF = 'b/c.html'>b</A> <a class="h" href=../d>d</a>` +
		`<a href="mailto:m@x">m</a><a href="#top">t</a><a name="n">n</a><abbr href="https://no/">` +
		`<!-- <a href="https://no.example/"> --><a href="https://e.example/?a=1&amp;b=2">e</a><a href="//p.example/z">z</a>`
	var got []string
	Links([]byte("https://base.example/dir/page.html"), []byte(html), func(t []byte) { got = append(got, string(t)) })
	require.Equal(t, []string{
		"https://x.example/a",
		"https://base.example/dir/b/c.html",
		"https://base.example/d",
		"https://e.example/?a=1&b=2",
		"https://p.example/z",
	}, got)
}

func BenchmarkParseLinksTerms(b *testing.B) {
	html := ""
	for range 40 {
		html += `<p>Some words of text with <a href="https://host.example/word/123.html">anchor text</a> and more words.</p>` + "\n"
	}
	line, _ := json.Marshal(map[string]string{"url": "https://host.example/x/1.html", "html": html})
	var p Parser
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		u, h, err := p.Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		Links(u, h, func([]byte) {})
		p.Terms(h, func([]byte) {})
	}
}
