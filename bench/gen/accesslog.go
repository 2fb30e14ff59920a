package gen

import (
	"io"
	"strconv"
	"sync"
	"time"
)

// CombinedLogPattern is a regular expression (regexp syntax) that matches
// every well-formed line AccessLog writes, without its '\n', and none of its
// malformed lines. Submatches: 1 client IP, 2 ident, 3 user, 4 time,
// 5 method, 6 path, 7 protocol, 8 status, 9 bytes ("-" for none),
// 10 referer, 11 user agent.
const CombinedLogPattern = `^(\S+) (\S+) (\S+) \[([^\]]+)\] "([A-Z]+) (\S+) (HTTP/[0-9.]+)" ([0-9]{3}) ([0-9]+|-) "([^"]*)" "([^"]*)"$`

// MalformedLogRate is the probability, 1/1024 (about 0.1%), that an
// AccessLog line is malformed.
const MalformedLogRate = 1.0 / 1024

// AccessLog writes web server access log lines in the Apache/NGINX Combined
// Log Format:
//
//	203.0.113.7 - - [01/Mar/2024:00:00:01 +0000] "GET /blog/2021/sta-ring HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (...)"
//
// Request paths are Zipf-distributed (exponent 1) over 10,000 paths, client
// IPs Zipf-distributed (exponent 1.1) over 5,000 clients; time starts at
// 2024-03-01 00:00:00 UTC and advances 0-2 seconds per line. Methods, status
// codes, sizes, referers and user agents follow fixed realistic mixes: about
// 85% status 200, 6% 304 (size "-"), 4% 404.
//
// A line is malformed with probability MalformedLogRate and then is one of,
// equally likely:
//   - a well-formed line cut short at a random byte (a torn write);
//   - a line whose request field holds escaped binary, as Apache logs a TLS
//     handshake sent to a plain HTTP port: "\x16\x03\x01\x00\xa5\x01" 400;
//   - a line of text that is not a log line at all.
//
// Every well-formed line matches CombinedLogPattern and no malformed line
// does. Output stops at the first line end at or after size bytes. Returns
// the number of bytes written.
func AccessLog(w io.Writer, size int64, seed uint64) (int64, error) {
	if err := checkSize("logs", size); err != nil {
		return 0, err
	}
	t := logTables()
	v := textVocab()
	r := newRNG(seed, streamLogs)
	s := newSink(w, "logs")
	ips := newIPTable(seed)

	clock := time.Date(2024, time.March, 1, 0, 0, 0, 0, time.UTC).Unix()
	var stamp []byte // clock formatted, refreshed only when clock moves
	stampAt := int64(-1)

	for s.total() < size {
		clock += int64(r.intn(3))
		if clock != stampAt {
			stamp = time.Unix(clock, 0).UTC().AppendFormat(stamp[:0], "02/Jan/2006:15:04:05 -0700")
			stampAt = clock
		}
		start := len(s.buf)
		malformed := -1
		if r.intn(1024) == 0 {
			malformed = int(r.intn(3))
		}
		if malformed == 2 {
			// Not a log line: a few words, as from a stray debug print.
			n := 3 + r.intn(8)
			for i := range n {
				if i > 0 {
					s.buf = append(s.buf, ' ')
				}
				s.buf = v.appendWord(s.buf, v.zipf.sample(r), false)
			}
			s.buf = append(s.buf, '\n')
			if !s.endRecord() {
				break
			}
			continue
		}

		s.buf = append(s.buf, ips.ip(ips.zipf.sample(r))...)
		s.buf = append(s.buf, " - "...)
		if r.chance(20) {
			s.buf = append(s.buf, v.word(100+r.intn(2000))...)
		} else {
			s.buf = append(s.buf, '-')
		}
		s.buf = append(s.buf, " ["...)
		s.buf = append(s.buf, stamp...)
		s.buf = append(s.buf, "] \""...)
		path := t.pathZipf.sample(r)
		status := statusMix[r.intn(uint32(len(statusMix)))]
		if malformed == 1 {
			s.buf = append(s.buf, `\x16\x03\x01\x00\xa5\x01`...)
			status = 400
		} else {
			s.buf = append(s.buf, methodMix[r.intn(uint32(len(methodMix)))]...)
			s.buf = append(s.buf, ' ')
			s.buf = append(s.buf, t.path(path)...)
			s.buf = append(s.buf, " HTTP/1.1"...)
		}
		s.buf = append(s.buf, "\" "...)
		s.buf = strconv.AppendInt(s.buf, int64(status), 10)
		s.buf = append(s.buf, ' ')
		switch {
		case status == 304:
			s.buf = append(s.buf, '-')
		case status == 200:
			// Each path has its own typical size; vary it by up to 1/8.
			base := t.sizes[path]
			s.buf = strconv.AppendUint(s.buf, uint64(base)+uint64(r.intn(base/8+1)), 10)
		default:
			s.buf = strconv.AppendUint(s.buf, 150+uint64(r.intn(400)), 10)
		}
		s.buf = append(s.buf, " \""...)
		switch x := r.intn(10); {
		case x < 4:
			s.buf = append(s.buf, '-')
		case x < 8:
			s.buf = append(s.buf, "https://www.example.com"...)
			s.buf = append(s.buf, t.path(t.pathZipf.sample(r))...)
		default:
			s.buf = append(s.buf, externalReferers[r.intn(uint32(len(externalReferers)))]...)
		}
		s.buf = append(s.buf, "\" \""...)
		s.buf = append(s.buf, userAgents[r.intn(uint32(len(userAgents)))]...)
		s.buf = append(s.buf, '"')
		if malformed == 0 {
			// Cut anywhere short of the closing quote: the pattern is
			// anchored on it, so no cut can match.
			n := len(s.buf) - start
			s.buf = s.buf[:start+1+int(r.intn(uint32(n-1)))]
		}
		s.buf = append(s.buf, '\n')
		if !s.endRecord() {
			break
		}
	}
	return s.finish()
}

// Mixes are drawn uniformly; repetition sets the weights.
var (
	methodMix = []string{"GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET",
		"GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "POST", "HEAD"}
	statusMix = func() []uint32 {
		var m []uint32
		for _, e := range []struct{ code, weight uint32 }{
			{200, 170}, {304, 12}, {404, 8}, {301, 3}, {302, 2}, {403, 2}, {500, 2}, {503, 1},
		} {
			for range e.weight {
				m = append(m, e.code)
			}
		}
		return m
	}()
	externalReferers = []string{
		"https://www.google.com/", "https://duckduckgo.com/", "https://www.bing.com/search?q=quern",
		"https://news.ycombinator.com/", "https://t.co/x7Yq2", "android-app://com.slack",
	}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"curl/8.5.0",
		"python-requests/2.31.0",
	}
)

const (
	logPaths   = 10000
	logClients = 5000
)

// logTableSet holds the request paths (the same for every seed, like the
// text vocabulary) in an arena, with each path's typical response size.
type logTableSet struct {
	paths    []byte
	off      []uint32
	sizes    []uint32
	pathZipf *zipfTable
}

func (t *logTableSet) path(i uint32) []byte { return t.paths[t.off[i]:t.off[i+1]] }

var logTables = sync.OnceValue(func() *logTableSet {
	v := textVocab()
	r := newRNG(vocabSeed, streamLogs)
	t := &logTableSet{}
	word := func() []byte { return v.word(100 + r.intn(5000)) }
	fixed := []string{"/", "/index.html", "/favicon.ico", "/robots.txt", "/about", "/contact",
		"/login", "/search", "/static/css/site.css", "/static/js/app.js"}
	seen := make(map[string]struct{}, logPaths)
	var p []byte
	for len(t.off) < logPaths {
		p = p[:0]
		if len(t.off) < len(fixed) {
			p = append(p, fixed[len(t.off)]...)
		} else {
			switch r.intn(6) {
			case 0:
				p = append(p, "/products/"...)
				p = append(p, word()...)
			case 1:
				p = append(p, "/blog/"...)
				p = strconv.AppendUint(p, 2015+uint64(r.intn(10)), 10)
				p = append(p, '/')
				p = append(p, word()...)
				p = append(p, '-')
				p = append(p, word()...)
			case 2:
				p = append(p, "/static/img/"...)
				p = append(p, word()...)
				p = append(p, ".png"...)
			case 3:
				p = append(p, "/api/v1/items/"...)
				p = strconv.AppendUint(p, uint64(r.intn(100000)), 10)
			case 4:
				p = append(p, "/docs/"...)
				p = append(p, word()...)
				p = append(p, ".html"...)
			default:
				p = append(p, "/search?q="...)
				p = append(p, word()...)
				p = append(p, "&page="...)
				p = strconv.AppendUint(p, 1+uint64(r.intn(5)), 10)
			}
		}
		if _, dup := seen[string(p)]; dup {
			continue
		}
		seen[string(p)] = struct{}{}
		t.off = append(t.off, uint32(len(t.paths)))
		t.paths = append(t.paths, p...)
		t.sizes = append(t.sizes, 200+r.intn(50000))
	}
	t.off = append(t.off, uint32(len(t.paths)))
	t.pathZipf = newZipfTable(logPaths, 1.0)
	return t
})

// ipTable is the per-seed client population: logClients addresses in an
// arena, most frequent first.
type ipTable struct {
	arena []byte
	off   []uint32
	zipf  *zipfTable
}

func (t *ipTable) ip(i uint32) []byte { return t.arena[t.off[i]:t.off[i+1]] }

var clientZipf = sync.OnceValue(func() *zipfTable { return newZipfTable(logClients, 1.1) })

func newIPTable(seed uint64) *ipTable {
	t := &ipTable{arena: make([]byte, 0, logClients*16), off: make([]uint32, 0, logClients+1), zipf: clientZipf()}
	for i := range uint64(logClients) {
		x := mix64(seed ^ mix64(i+0x6970))
		t.off = append(t.off, uint32(len(t.arena)))
		// First octet 1-223: unicast, like real clients.
		t.arena = strconv.AppendUint(t.arena, 1+x%223, 10)
		for sh := 8; sh < 32; sh += 8 {
			t.arena = append(t.arena, '.')
			t.arena = strconv.AppendUint(t.arena, (x>>(sh+16))&255, 10)
		}
	}
	t.off = append(t.off, uint32(len(t.arena)))
	return t
}
