package gen

import (
	"io"
	"math/bits"
	randv1 "math/rand"
	"math/rand/v2"
	"strconv"

	"github.com/quern-dev/quern/internal/jsontext"
)

// HTML writes crawled web pages as JSON lines, one page per line, so that a
// line-split reader sees each page whole and knows its URL. Line i (from 0)
// is
//
//	{"url":"https://HOST/WORD/i.html","html":"<!DOCTYPE html>\n<html>\n..."}
//
// where the html member holds, JSON-escaped (its newlines as \n, its quotes
// as \"), the page
//
//	<!DOCTYPE html>
//	<html>
//	<head><title>Three to six words</title></head>
//	<body>
//	<h1>Three to six words</h1>
//	<p>Text with <a href="https://HOST/WORD/j.html">anchor text</a> links.</p>
//	... 1 to 6 paragraphs ...
//	</body>
//	</html>
//
// HOST (one of about 2,000 hosts, NAME.example) and WORD are a function of
// the page number and the seed, so every page has a distinct URL, and a link
// can be resolved back to the page it points at. Each page has 5 to 30
// links (duplicates allowed, never to itself). Link targets are
// Zipf-distributed (exponent 1.2, math/rand's rejection-inversion sampler,
// constant memory for any number of pages) over the pages the output is
// expected to hold, size / 2600 bytes, shuffled so that the popular pages
// are spread through the output rather than first. Links near the end may
// point past the last page written: treat them as dangling.
//
// Output stops at the first line end at or after size bytes, so it
// overshoots size by less than one page (about 3 KiB). Returns the number of
// bytes written.
func HTML(w io.Writer, size int64, seed uint64) (int64, error) {
	if err := checkSize("html", size); err != nil {
		return 0, err
	}
	v := textVocab()
	r := newRNG(seed, streamHTML)
	s := newSink(w, "html")
	// At least two pages, so that page 0 always has another to link to.
	u := newPageURLs(seed, uint64(max(2, size/htmlPageEstimate)))
	// math/rand v1 has the rejection-inversion Zipf sampler; feed it from a
	// PCG so that it stays seeded and reproducible.
	links := randv1.NewZipf(randv1.New(&pcgSource{rand.NewPCG(seed, streamHTML+1)}), 1.2, 1, u.n-1)

	// The page is built in pg, then copied JSON-escaped into the sink.
	var pg []byte
	words := func(n uint32, capital bool) {
		for i := range n {
			if i > 0 {
				pg = append(pg, ' ')
			}
			pg = v.appendWord(pg, v.zipf.sample(r), i == 0 && capital)
		}
	}
	for page := uint64(0); s.total() < size; page++ {
		pg = append(pg[:0], "<!DOCTYPE html>\n<html>\n<head><title>"...)
		title := 3 + r.intn(4)
		titleStart := len(pg)
		words(title, true)
		titleEnd := len(pg)
		pg = append(pg, "</title></head>\n<body>\n<h1>"...)
		pg = append(pg, pg[titleStart:titleEnd]...)
		pg = append(pg, "</h1>\n"...)

		nLinks := 5 + r.intn(26)
		paras := 1 + r.intn(6)
		for p := range paras {
			// Spread links over paragraphs; the last takes the remainder.
			share := nLinks / paras
			if p == paras-1 {
				share = nLinks - share*(paras-1)
			}
			pg = append(pg, "<p>"...)
			words(3+r.intn(10), true)
			for range share {
				target := u.shuffle(links.Uint64())
				if target == page {
					target = (target + 1) % u.n
				}
				pg = append(pg, ` <a href="`...)
				pg = u.append(pg, target)
				pg = append(pg, `">`...)
				words(1+r.intn(3), false)
				pg = append(pg, "</a> "...)
				words(2+r.intn(10), false)
			}
			pg = append(pg, ".</p>\n"...)
		}
		pg = append(pg, "</body>\n</html>\n"...)

		s.buf = append(s.buf, `{"url":"`...)
		s.buf = u.append(s.buf, page)
		s.buf = append(s.buf, `","html":`...)
		s.buf = jsontext.AppendString(s.buf, pg)
		s.buf = append(s.buf, "}\n"...)
		if !s.endRecord() {
			break
		}
	}
	return s.finish()
}

// htmlPageEstimate is the mean page size in bytes, JSON line included
// (measured: 1 MiB holds about 400 pages), used to guess how many pages an
// output of a given size holds.
const htmlPageEstimate = 2600

const htmlHosts = 2003 // prime, so host = id mod htmlHosts cycles evenly

// pageURLs maps page numbers to URLs and Zipf ranks to page numbers.
type pageURLs struct {
	n       uint64 // expected number of pages
	key     uint64
	mul     uint64 // coprime to n: rank -> page is a bijection on [0, n)
	offset  uint64
	hostKey uint64
}

func newPageURLs(seed, n uint64) *pageURLs {
	u := &pageURLs{n: n, key: mix64(seed ^ 0x68746d6c), hostKey: mix64(seed + 0x686f7374)}
	u.offset = u.key % n
	u.mul = 1
	for _, p := range []uint64{1000003, 999983, 1000033, 104729} {
		if gcd(p, n) == 1 {
			u.mul = p % n
			break
		}
	}
	if u.mul == 0 {
		u.mul = 1
	}
	return u
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// shuffle maps a Zipf rank in [0, n) to a page number by an affine
// bijection, so popular pages are scattered through the output.
func (u *pageURLs) shuffle(rank uint64) uint64 {
	hi, lo := bits.Mul64(rank%u.n, u.mul)
	return (bits.Rem64(hi, lo, u.n) + u.offset) % u.n
}

// append appends the URL of page id: https://HOST.example/WORD/id.html.
func (u *pageURLs) append(dst []byte, id uint64) []byte {
	v := textVocab()
	h := mix64(id ^ u.key)
	host := (id + u.hostKey) % htmlHosts
	dst = append(dst, "https://"...)
	dst = append(dst, v.word(uint32(200+host))...)
	dst = append(dst, ".example/"...)
	dst = append(dst, v.word(uint32(100+h%20000))...)
	dst = append(dst, '/')
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, ".html"...)
	return dst
}

// pcgSource adapts a v2 PCG to math/rand's Source64 for randv1.NewZipf.
type pcgSource struct{ p *rand.PCG }

func (s *pcgSource) Int63() int64    { return int64(s.p.Uint64() >> 1) }
func (s *pcgSource) Uint64() uint64  { return s.p.Uint64() }
func (s *pcgSource) Seed(seed int64) { s.p.Seed(uint64(seed), streamHTML+1) }
