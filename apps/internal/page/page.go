// Package page reads crawled web pages stored one per line as JSON objects,
// {"url": "https://host/path", "html": "<!DOCTYPE html>..."}, for the
// reverselinks and termvector apps: it decodes the two fields without
// allocating per page, extracts a page's links and its text's terms.
package page

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"net/url"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every error about a line that is not a page.
var ErrSyntax = errors.New("page: not a JSON page object")

// Parser decodes page lines. Its buffers are reused from line to line, so
// the slices Parse returns are valid until the next call.
type Parser struct {
	url, html, key, term []byte
}

// Parse decodes a JSON object and returns its "url" and "html" string
// members; other members are skipped, whatever their type. Both must be
// present.
func (p *Parser) Parse(line []byte) (pageURL, pageHTML []byte, err error) {
	var haveURL, haveHTML bool
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return nil, nil, fmt.Errorf("%w: no '{' at byte %d", ErrSyntax, i)
	}
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			var key []byte
			if key, i, err = p.str(line, i, &p.key); err != nil {
				return nil, nil, err
			}
			i = skipWS(line, i)
			if i >= len(line) || line[i] != ':' {
				return nil, nil, fmt.Errorf("%w: no ':' at byte %d", ErrSyntax, i)
			}
			i = skipWS(line, i+1)
			switch {
			case string(key) == "url" && i < len(line) && line[i] == '"':
				pageURL, i, err = p.str(line, i, &p.url)
				haveURL = true
			case string(key) == "html" && i < len(line) && line[i] == '"':
				pageHTML, i, err = p.str(line, i, &p.html)
				haveHTML = true
			default:
				i, err = skipValue(line, i)
			}
			if err != nil {
				return nil, nil, err
			}
			i = skipWS(line, i)
			if i < len(line) && line[i] == ',' {
				i = skipWS(line, i+1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return nil, nil, fmt.Errorf("%w: no ',' or '}' at byte %d", ErrSyntax, i)
		}
	}
	if skipWS(line, i) != len(line) {
		return nil, nil, fmt.Errorf("%w: trailing bytes at %d", ErrSyntax, i)
	}
	if !haveURL || !haveHTML {
		return nil, nil, fmt.Errorf("%w: want string members \"url\" and \"html\"", ErrSyntax)
	}
	return pageURL, pageHTML, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// str decodes the JSON string at b[i]. Without escapes it returns a
// subslice of b; otherwise it unescapes into *buf.
func (p *Parser) str(b []byte, i int, buf *[]byte) ([]byte, int, error) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, fmt.Errorf("%w: no string at byte %d", ErrSyntax, i)
	}
	start := i + 1
	j := start
	for j < len(b) && b[j] != '"' && b[j] != '\\' {
		j++
	}
	if j < len(b) && b[j] == '"' {
		return b[start:j], j + 1, nil
	}
	out := append((*buf)[:0], b[start:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			*buf = out
			return out, j + 1, nil
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			break
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hex4(b, j+2)
			if n < 0 {
				return nil, j, fmt.Errorf("%w: bad \\u escape at byte %d", ErrSyntax, j)
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2, n2 := hex4(b, j+2); n2 >= 0 && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						j += 6
					}
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, j, fmt.Errorf("%w: bad escape at byte %d", ErrSyntax, j)
		}
		j += 2
	}
	return nil, j, fmt.Errorf("%w: unterminated string at byte %d", ErrSyntax, start-1)
}

func hex4(b []byte, i int) (rune, int) {
	if i+4 > len(b) {
		return 0, -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, -1
		}
	}
	return r, 4
}

// skipValue skips the JSON value at b[i]: strings, objects and arrays are
// matched by their delimiters, scalars run to the next delimiter.
func skipValue(b []byte, i int) (int, error) {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return i, fmt.Errorf("%w: unterminated string at byte %d", ErrSyntax, i)
			}
			i = j + 1
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i, nil
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i, nil
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}' || b[i] == ']' || b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
			return i, nil
		}
	}
	if depth != 0 {
		return i, fmt.Errorf("%w: unterminated value", ErrSyntax)
	}
	return i, nil
}

// Host returns the host of an absolute http(s) URL, lower-cased into dst's
// space, without port or user info; ok is false for other URLs.
func Host(dst, u []byte) (host []byte, ok bool) {
	rest, ok := cutScheme(u)
	if !ok {
		return nil, false
	}
	end := bytes.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	h := rest[:end]
	if at := bytes.LastIndexByte(h, '@'); at >= 0 {
		h = h[at+1:]
	}
	if c := bytes.LastIndexByte(h, ':'); c >= 0 && bytes.IndexByte(h[c:], ']') < 0 {
		h = h[:c]
	}
	if len(h) == 0 {
		return nil, false
	}
	dst = dst[:0]
	for _, c := range h {
		if c <= ' ' || c == 0x7f {
			return nil, false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

// cutScheme removes "http://" or "https://" (any case) from u.
func cutScheme(u []byte) ([]byte, bool) {
	for _, s := range []string{"https://", "http://"} {
		if len(u) >= len(s) && bytes.EqualFold(u[:len(s)], []byte(s)) {
			return u[len(s):], true
		}
	}
	return nil, false
}

// Links calls fn with the target of every <a href> in html, resolved
// against base (the page's URL) and without its fragment. Absolute http(s)
// targets are passed as subslices of html; relative ones are resolved with
// net/url, and entity-escaped ones unescaped, which allocates. Targets that
// are not http(s) (mailto:, javascript:, a lone #fragment) and targets
// holding white space or control bytes are skipped, as are links inside
// comments, <script> and <style>.
func Links(base, html []byte, fn func(target []byte)) {
	for i := 0; i < len(html); {
		j := bytes.IndexByte(html[i:], '<')
		if j < 0 {
			return
		}
		i += j + 1
		if i+1 >= len(html) || (html[i] != 'a' && html[i] != 'A') || !space(html[i+1]) {
			// Links in comments and scripts are not links.
			i = skipMarkup(html, i-1)
			continue
		}
		end := tagEnd(html, i)
		if v, ok := hrefValue(html[i+1 : end]); ok {
			if t, ok := resolve(base, v); ok {
				fn(t)
			}
		}
		i = end
	}
}

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// tagEnd returns the index of the '>' closing the tag whose name starts at
// i, skipping quoted attribute values, or len(b).
func tagEnd(b []byte, i int) int {
	var quote byte
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return len(b)
}

// hrefValue finds the href attribute among a tag's attributes.
func hrefValue(attrs []byte) ([]byte, bool) {
	for i := 0; i < len(attrs); {
		for i < len(attrs) && space(attrs[i]) {
			i++
		}
		start := i
		for i < len(attrs) && !space(attrs[i]) && attrs[i] != '=' && attrs[i] != '/' {
			i++
		}
		name := attrs[start:i]
		if i == start {
			i++
			continue
		}
		for i < len(attrs) && space(attrs[i]) {
			i++
		}
		var val []byte
		if i < len(attrs) && attrs[i] == '=' {
			i++
			for i < len(attrs) && space(attrs[i]) {
				i++
			}
			if i < len(attrs) && (attrs[i] == '"' || attrs[i] == '\'') {
				q := attrs[i]
				e := bytes.IndexByte(attrs[i+1:], q)
				if e < 0 {
					return nil, false
				}
				val = attrs[i+1 : i+1+e]
				i += e + 2
			} else {
				s := i
				for i < len(attrs) && !space(attrs[i]) {
					i++
				}
				val = attrs[s:i]
			}
		}
		if bytes.EqualFold(name, []byte("href")) {
			return val, true
		}
	}
	return nil, false
}

// resolve makes a link target absolute and drops its fragment.
func resolve(base, v []byte) ([]byte, bool) {
	v = bytes.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	if bytes.IndexByte(v, '&') >= 0 {
		v = []byte(html.UnescapeString(string(v)))
	}
	if i := bytes.IndexByte(v, '#'); i >= 0 {
		v = v[:i]
	}
	if len(v) == 0 {
		return nil, false
	}
	for _, c := range v {
		if c <= ' ' || c == 0x7f {
			return nil, false
		}
	}
	if _, ok := cutScheme(v); ok {
		return v, true
	}
	b, err := url.Parse(string(base))
	if err != nil {
		return nil, false
	}
	r, err := b.Parse(string(v))
	if err != nil || (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" {
		return nil, false
	}
	r.Fragment = ""
	return []byte(r.String()), true
}

// Terms calls fn with every term of the text of html, in order: maximal
// runs of Unicode letters, lower-cased. Tags, comments, the content of
// <script> and <style> elements and character references (&amp;) are not
// text. A term passed to fn is valid only during the call.
func (p *Parser) Terms(html []byte, fn func(term []byte)) {
	buf := p.term[:0]
	defer func() { p.term = buf[:0] }()
	flush := func() {
		if len(buf) > 0 {
			fn(buf)
			buf = buf[:0]
		}
	}
	for i := 0; i < len(html); {
		c := html[i]
		switch {
		case c == '<':
			flush()
			i = skipMarkup(html, i)
			continue
		case c == '&':
			flush()
			j := i + 1
			for j < len(html) && j-i <= 32 && (isASCIIAlnum(html[j]) || html[j] == '#') {
				j++
			}
			if j < len(html) && html[j] == ';' {
				j++
			}
			i = j
			continue
		case c < utf8.RuneSelf:
			if c >= 'A' && c <= 'Z' {
				buf = append(buf, c+'a'-'A')
			} else if c >= 'a' && c <= 'z' {
				buf = append(buf, c)
			} else {
				flush()
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(html[i:])
		if r != utf8.RuneError && unicode.IsLetter(r) {
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		} else {
			flush()
		}
		i += size
	}
	flush()
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// skipMarkup returns the index after the markup starting at html[i] == '<':
// a comment, a script or style element with its content, or a tag.
func skipMarkup(b []byte, i int) int {
	rest := b[i:]
	if bytes.HasPrefix(rest, []byte("<!--")) {
		if e := bytes.Index(rest[4:], []byte("-->")); e >= 0 {
			return i + 4 + e + 3
		}
		return len(b)
	}
	for _, el := range []string{"script", "style"} {
		if len(rest) > len(el)+1 && bytes.EqualFold(rest[1:1+len(el)], []byte(el)) && (rest[1+len(el)] == '>' || space(rest[1+len(el)])) {
			closing := "</" + el
			for j := i + 1; j < len(b); {
				k := bytes.Index(b[j:], []byte("</"))
				if k < 0 {
					return len(b)
				}
				j += k
				if len(b)-j >= len(closing) && bytes.EqualFold(b[j:j+len(closing)], []byte(closing)) {
					return tagEnd(b, j) + 1
				}
				j += 2
			}
			return len(b)
		}
	}
	return min(tagEnd(b, i+1)+1, len(b))
}

// AppendJSONString appends s as a JSON string: quoted, with '"', '\\' and
// control characters escaped; other bytes are copied as they are.
func AppendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
