package gen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// generate runs a kind into memory and checks the reported count.
func generate(t *testing.T, kind string, size int64, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := Generate(kind, &buf, size, seed)
	if err != nil {
		t.Fatalf("Generate(%q, %d, %d): %v", kind, size, seed, err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Generate(%q, %d, %d) = %d, but wrote %d bytes", kind, size, seed, n, buf.Len())
	}
	return buf.Bytes()
}

func TestDeterministic(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			a := generate(t, kind, 300_000, 7)
			b := generate(t, kind, 300_000, 7)
			if !bytes.Equal(a, b) {
				t.Fatal("same seed gave different bytes")
			}
			c := generate(t, kind, 300_000, 8)
			if bytes.Equal(a[:1000], c[:1000]) {
				t.Fatal("seeds 7 and 8 gave the same first 1000 bytes")
			}
		})
	}
}

// TestPrefix checks that a smaller size yields a prefix of a larger one, so
// a small test corpus is the head of the benchmark corpus. HTML is exempt:
// its link targets depend on the expected page count.
func TestPrefix(t *testing.T) {
	for _, kind := range []string{"text", "words", "gensort", "logs"} {
		small := generate(t, kind, 10_000, 3)
		large := generate(t, kind, 1_000_000, 3)
		if !bytes.HasPrefix(large, small) {
			t.Errorf("%s: 10 kB output is not a prefix of the 1 MB output", kind)
		}
	}
}

// lastRecordStart returns the offset where the output's last record begins.
func lastRecordStart(kind string, b []byte) int {
	return bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
}

func TestSize(t *testing.T) {
	maxRecord := map[string]int{"text": 110, "words": 130, "logs": 450, "html": 8000, "graph": 42}
	for _, kind := range []string{"text", "words", "logs", "html", "graph"} {
		for _, size := range []int64{1, 2, 80, 999, 4096, 65_536, 262_144, 1 << 20} {
			b := generate(t, kind, size, 11)
			n := int64(len(b))
			if n < size || n-size >= int64(maxRecord[kind]) {
				t.Errorf("%s size %d: wrote %d bytes", kind, size, n)
				continue
			}
			if b[n-1] != '\n' {
				t.Errorf("%s size %d: output ends in %q, not a line end", kind, size, b[n-1])
			}
			// It stopped at the first boundary at or after size: the
			// output without its last record is short of size.
			if start := lastRecordStart(kind, b); int64(start) >= size {
				t.Errorf("%s size %d: last record starts at %d, an earlier boundary reached size", kind, size, start)
			}
		}
		if b := generate(t, kind, 0, 1); len(b) != 0 {
			t.Errorf("%s size 0: wrote %d bytes", kind, len(b))
		}
	}
	for _, size := range []int64{0, 99, 100, 250, 100_000} {
		if got, want := len(generate(t, "gensort", size, 1)), int(size/100*100); got != want {
			t.Errorf("gensort size %d: wrote %d bytes, want %d", size, got, want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	for _, kind := range Kinds {
		n, err := Generate(kind, io.Discard, -1, 1)
		if n != 0 || !errors.Is(err, ErrNegativeSize) {
			t.Errorf("%s size -1: got (%d, %v), want ErrNegativeSize", kind, n, err)
		}
	}
	if _, err := Gensort(io.Discard, -5, 1); !errors.Is(err, ErrNegativeSize) {
		t.Errorf("Gensort(-5 records): got %v, want ErrNegativeSize", err)
	}
	_, err := Generate("parquet", io.Discard, 10, 1)
	if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), "parquet") {
		t.Errorf("unknown kind: got %v, want ErrUnknownKind naming the kind", err)
	}
}

// failingWriter accepts limit bytes, then fails; a partial write reports
// what it took.
type failingWriter struct {
	limit, n int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return k, errDiskFull
	}
	w.n += len(p)
	return len(p), nil
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestWriteError(t *testing.T) {
	for _, kind := range Kinds {
		w := &failingWriter{limit: 300_000}
		n, err := Generate(kind, w, 2_000_000, 1)
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: got error %v, want one wrapping errDiskFull", kind, err)
		}
		if n != 300_000 {
			t.Errorf("%s: reported %d bytes written, writer took 300000", kind, n)
		}
		if err != nil && !strings.Contains(err.Error(), "offset 300000") {
			t.Errorf("%s: error %q does not give the offset", kind, err)
		}
		if _, err := Generate(kind, shortWriter{}, 10_000, 1); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("%s: short write gave %v, want io.ErrShortWrite", kind, err)
		}
	}
}

func TestText(t *testing.T) {
	b := generate(t, "text", 1<<20, 1)
	counts := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	blank, long, sum, nonBlank := 0, 0, 0, 0
	capitalAfterStop := 0
	for i, line := range lines {
		if line == "" {
			blank++
			if i > 0 && lines[i-1] == "" {
				t.Fatalf("line %d: two blank lines in a row", i+1)
			}
			continue
		}
		nonBlank++
		sum += len(line)
		if len(line) > 110 {
			long++
		}
		fields := strings.Fields(line)
		for j, f := range fields {
			w := strings.ToLower(strings.TrimRight(f, ".,?!"))
			if w == "" || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
				t.Fatalf("line %d: token %q is not a word with punctuation", i+1, f)
			}
			counts[w]++
			if j+1 < len(fields) && strings.ContainsAny(f[len(f)-1:], ".?!") {
				if c := fields[j+1][0]; 'A' <= c && c <= 'Z' {
					capitalAfterStop++
				} else {
					t.Fatalf("line %d: %q follows a sentence end without a capital", i+1, fields[j+1])
				}
			}
		}
	}
	if long > 0 {
		t.Errorf("%d lines longer than 110 bytes", long)
	}
	if mean := sum / nonBlank; mean < 55 || mean > 85 {
		t.Errorf("mean line length %d, want about 60-80", mean)
	}
	if blank < nonBlank/100 || blank > nonBlank/5 {
		t.Errorf("%d blank lines among %d lines: paragraphs missing or too many", blank, nonBlank)
	}
	if capitalAfterStop < 1000 {
		t.Errorf("only %d sentences start within a line", capitalAfterStop)
	}

	type wc struct {
		w string
		n int
	}
	var ranked []wc
	for w, n := range counts {
		ranked = append(ranked, wc{w, n})
	}
	slices.SortFunc(ranked, func(a, b wc) int { return b.n - a.n })
	if ranked[0].w != "the" {
		t.Errorf("most frequent word is %q, want \"the\"", ranked[0].w)
	}
	// Zipf with exponent 1: rank 1 is about 100 times rank 100.
	if r := float64(ranked[0].n) / float64(ranked[99].n); r < 30 || r > 300 {
		t.Errorf("count(rank 1)/count(rank 100) = %.1f, want about 100", r)
	}
	if len(ranked) < 15_000 {
		t.Errorf("%d distinct words in 1 MiB, want many (> 15000)", len(ranked))
	}
}

func TestVocabulary(t *testing.T) {
	v := textVocab()
	if v.n() != 50_100 {
		t.Fatalf("vocabulary has %d words, want 50100", v.n())
	}
	seen := map[string]bool{}
	for i := range uint32(v.n()) {
		w := string(v.word(i))
		if seen[strings.ToLower(w)] {
			t.Fatalf("word %q (rank %d) appears twice", w, i)
		}
		seen[strings.ToLower(w)] = true
		if len(w) > maxWordLen {
			t.Fatalf("word %q is longer than %d bytes", w, maxWordLen)
		}
		if c := string(v.appendWord([]byte("x"), i, true)); !strings.EqualFold(c, "x"+w) || c[1] < 'A' || c[1] > 'Z' {
			t.Fatalf("capitalised form of %q is %q", w, c[1:])
		}
		if c := string(v.appendWord(make([]byte, 1, 4), i, false)); c[1:] != w {
			t.Fatalf("appendWord without room for a slot gave %q for %q", c[1:], w)
		}
	}
	if string(v.word(0)) != "the" || string(v.word(99)) != "us" {
		t.Errorf("head of vocabulary is %q ... %q, want the 100 common words", v.word(0), v.word(99))
	}
}

func TestDistinctWords(t *testing.T) {
	b := generate(t, "words", 1<<20, 5)
	seen := make(map[string]struct{}, 120_000)
	words := 0
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Split(line, " ")
		if len(f) < 8 || len(f) > 12 {
			t.Fatalf("line %d has %d words, want 8-12", i+1, len(f))
		}
		for _, w := range f {
			if w == "" || len(w) > 9 || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
				t.Fatalf("line %d: bad word %q", i+1, w)
			}
			seen[w] = struct{}{}
			words++
		}
	}
	if words < 100_000 || len(seen) != words {
		t.Errorf("%d distinct among %d words, want all distinct and > 100000", len(seen), words)
	}
	// Different seeds share almost no words.
	c := generate(t, "words", 1<<16, 6)
	shared := 0
	for _, w := range strings.Fields(string(c)) {
		if _, ok := seen[w]; ok {
			shared++
		}
	}
	if shared > 10 {
		t.Errorf("seeds 5 and 6 share %d words", shared)
	}
}

func TestAppendLetters(t *testing.T) {
	for _, tc := range []struct {
		x    uint64
		want string
	}{{0, "a"}, {25, "z"}, {26, "ba"}, {26*26 - 1, "zz"}, {1<<40 - 1, "fgxgtxiup"}} {
		if got := string(appendLetters(nil, tc.x)); got != tc.want {
			t.Errorf("appendLetters(%d) = %q, want %q", tc.x, got, tc.want)
		}
	}
}

func TestGensort(t *testing.T) {
	const records = 5000
	var buf bytes.Buffer
	n, err := Gensort(&buf, records, 9)
	if err != nil || n != records*100 || buf.Len() != records*100 {
		t.Fatalf("Gensort(%d records) = %d, %v; buffer %d bytes", records, n, err, buf.Len())
	}
	b := buf.Bytes()
	keys := map[string]bool{}
	for i := range records {
		rec := b[i*100 : (i+1)*100]
		for j, c := range rec[:10] {
			if c < ' ' || c > '~' {
				t.Fatalf("record %d: key byte %d is %#x, not printable", i, j, c)
			}
		}
		keys[string(rec[:10])] = true
		if string(rec[10:12]) != "  " || string(rec[44:46]) != "  " || string(rec[98:]) != "\r\n" {
			t.Fatalf("record %d: separators wrong: %q", i, rec)
		}
		num, err := strconv.ParseUint(string(rec[12:44]), 16, 64)
		if err != nil || num != uint64(i) || strings.ToUpper(string(rec[12:44])) != string(rec[12:44]) {
			t.Fatalf("record %d: record number field %q (%v)", i, rec[12:44], err)
		}
		for g := range 13 {
			d := rec[46+4*g : 50+4*g]
			if !strings.Contains(hexDigits, string(d[0])) || d[1] != d[0] || d[2] != d[0] || d[3] != d[0] {
				t.Fatalf("record %d: filler group %d is %q", i, g, d)
			}
		}
	}
	if len(keys) != records {
		t.Errorf("%d distinct keys among %d records", len(keys), records)
	}
}

func TestAccessLog(t *testing.T) {
	b := generate(t, "logs", 8<<20, 2)
	re := regexp.MustCompile(CombinedLogPattern)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var bad []string
	paths := map[string]int{}
	var last time.Time
	for _, line := range lines {
		m := re.FindStringSubmatch(line)
		if m == nil {
			bad = append(bad, line)
			continue
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[4])
		if err != nil {
			t.Fatalf("line %q: time: %v", line, err)
		}
		if ts.Before(last) {
			t.Fatalf("line %q: time goes backwards from %v", line, last)
		}
		last = ts
		if (m[8] == "304") != (m[9] == "-") {
			t.Fatalf("line %q: size must be - exactly for 304", line)
		}
		paths[m[6]]++
	}
	want := float64(len(lines)) * MalformedLogRate
	if float64(len(bad)) < want/2 || float64(len(bad)) > want*2 {
		t.Errorf("%d malformed lines among %d, want about %.0f", len(bad), len(lines), want)
	}
	// A torn line is a prefix of a well-formed one: it starts with an
	// address and stops short of the user agent's closing quote.
	tornLine := regexp.MustCompile(`^[0-9]`)
	var torn, binary, prose int
	for _, line := range bad {
		switch {
		case strings.Contains(line, `"\x16\x03\x01`):
			binary++
		case tornLine.MatchString(line):
			torn++
		case strings.Trim(line, "abcdefghijklmnopqrstuvwxyzI ") == "":
			prose++
		default:
			t.Errorf("malformed line of no documented form: %q", line)
		}
	}
	if torn == 0 || binary == 0 || prose == 0 {
		t.Errorf("malformed forms: %d torn, %d binary, %d prose; want each present", torn, binary, prose)
	}
	counts := make([]int, 0, len(paths))
	for _, n := range paths {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	if len(counts) < 5000 || counts[0] < 30*counts[99] {
		t.Errorf("%d distinct paths, top %d, 100th %d: want Zipf over ~10k paths", len(counts), counts[0], counts[99])
	}
}

func TestHTML(t *testing.T) {
	b := string(generate(t, "html", 1<<20, 4))
	pageURL := regexp.MustCompile(`^https://[a-z]+\.example/[a-z]+/[0-9]+\.html$`)
	link := regexp.MustCompile(`<a href="([^"]+)">[a-zI ]+</a>`)
	lines := strings.SplitAfter(b, "\n")
	if lines[len(lines)-1] != "" {
		t.Fatalf("output does not end with a whole line: %q", lines[len(lines)-1])
	}
	lines = lines[:len(lines)-1]
	if len(lines) < 300 {
		t.Fatalf("1 MiB holds %d pages, want about 400", len(lines))
	}
	urls := map[string]bool{}
	inLinks := map[string]int{}
	total := 0
	for i, line := range lines {
		var pg struct{ URL, HTML string }
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pg); err != nil {
			t.Fatalf("line %d is not a JSON page: %v: %q", i, err, line[:min(len(line), 80)])
		}
		if !pageURL.MatchString(pg.URL) {
			t.Fatalf("page %d: url %q", i, pg.URL)
		}
		if urls[pg.URL] {
			t.Fatalf("page %d: URL %s repeats", i, pg.URL)
		}
		urls[pg.URL] = true
		p := pg.HTML
		if !strings.HasPrefix(p, "<!DOCTYPE html>\n<html>\n<head><title>") || !strings.Contains(p, "<body>\n") ||
			!strings.HasSuffix(p, "</body>\n</html>\n") {
			t.Fatalf("page %d: not an HTML document: %q", i, p[:min(len(p), 80)])
		}
		links := link.FindAllStringSubmatch(p, -1)
		if len(links) < 5 || len(links) > 30 || len(links) != strings.Count(p, "<a ") {
			t.Fatalf("page %d has %d links (%d <a tags), want 5-30", i, len(links), strings.Count(p, "<a "))
		}
		for _, l := range links {
			if l[1] == pg.URL {
				t.Fatalf("page %d links to itself", i)
			}
			inLinks[l[1]]++
			total++
		}
	}
	resolved := 0
	counts := make([]int, 0, len(inLinks))
	for u, n := range inLinks {
		if urls[u] {
			resolved += n
		}
		counts = append(counts, n)
	}
	if resolved < total*9/10 {
		t.Errorf("only %d of %d links point at pages in the output", resolved, total)
	}
	slices.Sort(counts)
	if top, median := counts[len(counts)-1], counts[len(counts)/2]; top < 20*median {
		t.Errorf("most linked page has %d in-links, median %d: want Zipf", top, median)
	}
}

// heapSampler discards what it is given and records the peak HeapInuse,
// sampled every 4th write (a write is 248 KiB).
type heapSampler struct {
	writes int
	peak   uint64
}

func (h *heapSampler) Write(p []byte) (int, error) {
	if h.writes%4 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapInuse)
	}
	h.writes++
	return len(p), nil
}

func TestConstantMemory(t *testing.T) {
	size := int64(64 << 20)
	if raceEnabled {
		size = 16 << 20 // the race detector slows the loops tenfold
	}
	for _, kind := range Kinds {
		runtime.GC()
		h := &heapSampler{}
		n, err := Generate(kind, h, size, 1)
		if err != nil || n < size-100 {
			t.Fatalf("%s: %d, %v", kind, n, err)
		}
		if h.peak == 0 || h.peak > 16<<20 {
			t.Errorf("%s: peak HeapInuse %d MiB generating %d MiB, want < 16 MiB", kind, h.peak>>20, size>>20)
		}
		t.Logf("%s: peak HeapInuse %.1f MiB", kind, float64(h.peak)/(1<<20))
	}
}

func TestZipfTable(t *testing.T) {
	const n, draws = 1000, 400_000
	z := newZipfTable(n, 1.0)
	r1, r2 := newRNG(1, 0), newRNG(2, 0)
	alias := make([]int, n)
	cdf := make([]int, n)
	for range draws {
		alias[z.sample(r1)]++
		cdf[z.sampleCDF(r2)]++
	}
	// Expected share of rank k is 1/((k+1) H_n); H_1000 ≈ 7.485.
	for _, k := range []int{0, 1, 9, 99} {
		want := draws / (float64(k+1) * 7.485)
		for name, got := range map[string]int{"alias": alias[k], "cdf": cdf[k]} {
			if d := float64(got) - want; d*d > 25*want { // 5 standard deviations
				t.Errorf("%s: rank %d drawn %d times, want %.0f", name, k, got, want)
			}
		}
	}
	u := newZipfTable(4, 0) // s = 0 is uniform
	counts := make([]int, 4)
	for range 40_000 {
		counts[u.sample(r1)]++
	}
	for k, c := range counts {
		if c < 9500 || c > 10500 {
			t.Errorf("uniform table: rank %d drawn %d times of 40000", k, c)
		}
	}
}

func Example() {
	var b strings.Builder
	if _, err := Generate("text", &b, 150, 1); err != nil {
		fmt.Println(err)
	}
	fmt.Print(b.String())
	// Output:
	// Foulgana breemut be the mang it mangeal be cee mairquert bastot samvispax
	// raxspokoust to. Kodeast to tostbaithest the, driort jux dres jaipre
	// she into the make pladriorhym the hair flinheend jos be. Bryngkundtu drio
}

// TestSizeProperty checks the size contract for random sizes and seeds.
func TestSizeProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		kind := rapid.SampledFrom(Kinds).Draw(t, "kind")
		size := rapid.Int64Range(0, 40_000).Draw(t, "size")
		seed := rapid.Uint64().Draw(t, "seed")
		var buf bytes.Buffer
		n, err := Generate(kind, &buf, size, seed)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("Generate = %d, %v; wrote %d", n, err, buf.Len())
		}
		b := buf.Bytes()
		if kind == "gensort" {
			if n != size/100*100 {
				t.Fatalf("gensort wrote %d bytes for size %d", n, size)
			}
			return
		}
		if size == 0 {
			if n != 0 {
				t.Fatalf("size 0 wrote %d bytes", n)
			}
			return
		}
		if n < size || b[n-1] != '\n' || int64(lastRecordStart(kind, b)) >= size {
			t.Fatalf("size %d: wrote %d bytes, last record at %d, last byte %q", size, n, lastRecordStart(kind, b), b[n-1])
		}
		if kind == "html" {
			// No page links to itself, even when the output is tiny.
			for _, page := range strings.SplitAfter(string(b), "\n") {
				self, _, _ := strings.Cut(strings.TrimPrefix(page, `{"url":"`), `"`)
				if self != "" && strings.Contains(page, `href=\"`+self+`\"`) {
					t.Fatalf("page %s links to itself", self)
				}
			}
		}
	})
}

// TestConcurrent runs every generator in parallel twice: the shared tables
// are built once and only read, so results agree with a serial run (and
// the race detector has something to check).
func TestConcurrent(t *testing.T) {
	want := map[string][]byte{}
	for _, kind := range Kinds {
		want[kind] = generate(t, kind, 50_000, 21)
	}
	var wg sync.WaitGroup
	got := make([][]byte, 2*len(Kinds))
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() {
			var buf bytes.Buffer
			_, errs[i] = Generate(Kinds[i%len(Kinds)], &buf, 50_000, 21)
			got[i] = buf.Bytes()
		})
	}
	wg.Wait()
	for i := range got {
		kind := Kinds[i%len(Kinds)]
		if errs[i] != nil || !bytes.Equal(got[i], want[kind]) {
			t.Errorf("%s: concurrent run differs from serial run (err %v)", kind, errs[i])
		}
	}
}

// TestGensortWorkedExample pins the record shown in Gensort's doc comment.
func TestGensortWorkedExample(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Gensort(&buf, 2, 1); err != nil {
		t.Fatal(err)
	}
	want := "2#/*|~L7S-  00000000000000000000000000000001  6666AAAA7777111188887777555533338888CCCCFFFF66661111\r\n"
	if got := buf.String()[100:]; got != want {
		t.Errorf("record 1 of seed 1:\n got %q\nwant %q", got, want)
	}
}

// TestGraph checks the edge list's format and R-MAT's shape: ids within
// GraphNodes, no self-loops, and a skewed degree distribution (a few nodes
// hold a large share of the edges, which uniform random edges would not).
func TestGraph(t *testing.T) {
	const size = 1 << 20
	b := generate(t, "graph", size, 5)
	nodes := GraphNodes(size)
	if nodes != 4096 {
		t.Fatalf("GraphNodes(1 MiB) = %d, want 4096 (2^floor(log2(size/256)))", nodes)
	}
	degree := map[uint64]int{}
	edges := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		src, dst, ok := strings.Cut(line, "\t")
		s, err1 := strconv.ParseUint(src, 10, 64)
		d, err2 := strconv.ParseUint(dst, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("line %q is not src<TAB>dst", line)
		}
		if s >= nodes || d >= nodes {
			t.Fatalf("line %q: id out of [0, %d)", line, nodes)
		}
		if s == d {
			t.Fatalf("line %q: self-loop", line)
		}
		degree[s]++
		edges++
	}
	counts := slices.Sorted(maps.Values(degree))
	slices.Reverse(counts)
	top := 0
	for _, c := range counts[:len(counts)/100] {
		top += c
	}
	// With 0.57/0.19/0.19/0.05 the top 1% of sources hold about a fifth
	// of the edges; uniform edges would give them about 1.5%.
	if share := float64(top) / float64(edges); share < 0.1 {
		t.Errorf("top 1%% of sources hold %.1f%% of %d edges, want a skewed graph (> 10%%)", 100*share, edges)
	}
	t.Logf("%d edges over %d sources; top 1%% hold %.1f%%", edges, len(degree), 100*float64(top)/float64(edges))
}

// TestNodePerm checks that the id scrambling is a bijection on [0, 2^scale).
func TestNodePerm(t *testing.T) {
	for _, scale := range []int{4, 5, 12} {
		p := newNodePerm(9, scale)
		seen := make([]bool, 1<<scale)
		for x := range uint64(1) << scale {
			y := p.apply(x)
			if y >= 1<<scale || seen[y] {
				t.Fatalf("scale %d: %d maps to %d, out of range or taken", scale, x, y)
			}
			seen[y] = true
		}
	}
}
