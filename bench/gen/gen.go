// Package gen writes seeded, sized, streaming synthetic data sets: English-like
// text, almost-all-distinct words, gensort records, web server access logs,
// linked HTML pages and R-MAT graphs. They feed `quern gen`, the tests of the bundled apps and
// the benchmark suite.
//
// Every generator is deterministic: the same (kind, size, seed) always yields
// the same bytes, on every platform and Go release that keeps math/rand/v2's
// PCG stable. Generators run in constant memory whatever the size, and write
// to the caller's io.Writer in large blocks, so wrapping w in a bufio.Writer is
// unnecessary.
//
// # Size
//
// Size-driven generators (all but Gensort) emit whole records and stop at the
// first record boundary at or beyond size: output is never cut in the middle
// of a line (or, for HTML, of a page), and it overshoots size by less than
// one record. A size of zero writes nothing.
package gen

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
)

// Kinds lists the generator names accepted by Generate, in the order the CLI
// shows them.
var Kinds = []string{"text", "words", "gensort", "logs", "html", "graph"}

// ErrUnknownKind is returned by Generate for a kind not in Kinds.
var ErrUnknownKind = errors.New("gen: unknown kind")

// ErrNegativeSize is returned for a negative size or record count.
var ErrNegativeSize = errors.New("gen: negative size")

// Generate dispatches to the generator named kind (one of Kinds). For
// "gensort", size is in bytes and is rounded down to whole 100-byte records
// (size/100 records). It returns the number of bytes written.
func Generate(kind string, w io.Writer, size int64, seed uint64) (int64, error) {
	switch kind {
	case "text":
		return Text(w, size, seed)
	case "words":
		return DistinctWords(w, size, seed)
	case "gensort":
		if size < 0 {
			return 0, fmt.Errorf("gen: gensort: size %d: %w", size, ErrNegativeSize)
		}
		return Gensort(w, size/GensortRecordSize, seed)
	case "logs":
		return AccessLog(w, size, seed)
	case "html":
		return HTML(w, size, seed)
	case "graph":
		return Graph(w, size, seed)
	}
	return 0, fmt.Errorf("%w %q (want one of %q)", ErrUnknownKind, kind, Kinds)
}

const (
	// bufSize is the capacity of a sink's buffer. 256 KiB amortises the
	// writer's per-call cost (a syscall for an *os.File) to nothing and
	// still fits in L2.
	bufSize = 256 << 10
	// flushAt leaves headroom for the largest record a generator appends
	// between checks (a text line or an HTML line is well under 8 KiB), so
	// the buffer never grows past its capacity.
	flushAt = bufSize - 8<<10
)

// sink is the buffered output of one generator call. Generators append
// records straight into buf, then call endRecord, which flushes when the
// buffer is nearly full. The first write error is kept and stops the
// generator.
type sink struct {
	w       io.Writer
	kind    string
	buf     []byte
	flushed int64 // bytes accepted by w
	err     error
}

func newSink(w io.Writer, kind string) *sink {
	return &sink{w: w, kind: kind, buf: make([]byte, 0, bufSize)}
}

// total reports bytes produced so far, written or still buffered.
func (s *sink) total() int64 { return s.flushed + int64(len(s.buf)) }

// endRecord is called after each whole record; it reports whether the
// generator may continue (no write error so far).
func (s *sink) endRecord() bool {
	if len(s.buf) >= flushAt {
		s.flush()
	}
	return s.err == nil
}

func (s *sink) flush() {
	if s.err != nil || len(s.buf) == 0 {
		return
	}
	n, err := s.w.Write(s.buf)
	if n < 0 || n > len(s.buf) {
		n = 0
		if err == nil {
			err = errors.New("invalid write count")
		}
	}
	if err == nil && n < len(s.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.err = fmt.Errorf("gen: %s: write at offset %d: %w", s.kind, s.flushed+int64(n), err)
	}
	s.flushed += int64(n)
	s.buf = s.buf[:0]
}

// finish flushes what is left and returns the generator's result.
func (s *sink) finish() (int64, error) {
	s.flush()
	return s.flushed, s.err
}

func checkSize(kind string, size int64) error {
	if size < 0 {
		return fmt.Errorf("gen: %s: size %d: %w", kind, size, ErrNegativeSize)
	}
	return nil
}

// Stream constants keep generators that share a seed from sharing a random
// sequence: text seed 1 and logs seed 1 are unrelated.
const (
	streamText uint64 = 0x7465787400000000 + iota
	streamWords
	streamGensort
	streamLogs
	streamHTML
	streamGraph
)

// rng is a PCG generator held by value, called directly rather than through
// rand.Source, so the hot loops pay no interface call per draw.
type rng struct{ pcg rand.PCG }

func newRNG(seed, stream uint64) *rng {
	r := &rng{}
	r.pcg.Seed(seed, stream)
	return r
}

func (r *rng) next() uint64 { return r.pcg.Uint64() }

// intn returns a number in [0, n) by multiply-shift of 32 random bits. Its
// bias (at most n/2^32) is irrelevant for synthetic data and it costs no
// division.
func (r *rng) intn(n uint32) uint32 {
	return uint32((uint64(uint32(r.next())) * uint64(n)) >> 32)
}

// chance reports true with probability 1/n.
func (r *rng) chance(n uint32) bool { return r.intn(n) == 0 }

// mix64 is the splitmix64 finaliser: a bijection on uint64 that scatters
// nearby inputs, used to derive per-seed and per-id constants.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
