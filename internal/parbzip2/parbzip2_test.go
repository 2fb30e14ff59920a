package parbzip2

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/dsnet/compress/bzip2"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// text is n bytes of lines of words, compressible as text is.
func text(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "mapreduce", "block"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%s %d", words[rng.IntN(len(words))], rng.IntN(100000))
		if rng.IntN(8) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func compress(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	zw, err := bzip2.NewWriter(&b, &bzip2.WriterConfig{Level: level})
	require.NoError(t, err)
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func decode(src []byte, workers int) ([]byte, error) {
	r := NewReader(bytes.NewReader(src), workers)
	defer r.Close()
	return io.ReadAll(r)
}

// Many blocks (level 1: 100 kB each), decoded by 1 to 4 goroutines, give
// the bytes the standard library's sequential decoder gives.
func TestManyBlocks(t *testing.T) {
	data := text(1_500_000, 1)
	z := compress(t, data, 1)
	want, err := io.ReadAll(stdbzip2.NewReader(bytes.NewReader(z)))
	require.NoError(t, err)
	require.Equal(t, data, want)
	for _, workers := range []int{1, 2, 4} {
		got, err := decode(z, workers)
		require.NoError(t, err)
		require.Equal(t, data, got, "workers %d", workers)
	}
}

// Streams one after another (pbzip2 writes such files), of different block
// sizes, one of them empty.
func TestConcatenatedStreams(t *testing.T) {
	a, b := text(300_000, 2), text(50_000, 3)
	z := append(append(compress(t, a, 1), compress(t, nil, 9)...), compress(t, b, 9)...)
	got, err := decode(z, 2)
	require.NoError(t, err)
	require.Equal(t, append(append([]byte{}, a...), b...), got)

	got, err = decode(compress(t, nil, 5), 2)
	require.NoError(t, err)
	require.Empty(t, got)
}

// A file cut short anywhere, or with a flipped bit, or followed by other
// bytes, fails; none decodes to a wrong answer without an error.
func TestDamagedFiles(t *testing.T) {
	data := text(400_000, 4)
	z := compress(t, data, 1)
	for _, n := range []int{0, 3, 4, 10, 100, len(z) / 3, len(z) / 2, len(z) - 11, len(z) - 5, len(z) - 1} {
		_, err := decode(z[:n], 2)
		require.Error(t, err, "cut at %d of %d", n, len(z))
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 40 {
		bad := bytes.Clone(z)
		i := 4 + rng.IntN(len(bad)-4)
		bad[i] ^= 1 << rng.IntN(8)
		got, err := decode(bad, 2)
		if err == nil {
			require.Equal(t, data, got, "flipped a bit of byte %d: decoded without error, so it must be the same text", i)
		}
	}
	_, err := decode(append(bytes.Clone(z), "garbage"...), 2)
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = decode([]byte("not bzip2 at all"), 2)
	require.ErrorIs(t, err, ErrCorrupt)
}

// A block magic inside a block's bits (a false start, once in 2^48 bit
// positions) cuts the block in two; the Reader decodes the pieces
// together. The test cuts the scanner's blocks itself, at several places.
func TestFalseStartIsMerged(t *testing.T) {
	data := text(250_000, 6)
	z := compress(t, data, 1)
	var pieces []*piece
	s := scanner{src: bytes.NewReader(z)}
	s.run(func(p *piece) bool { pieces = append(pieces, p); return true })
	require.Greater(t, len(pieces), 3, "blocks and the end of stream")
	for _, cut := range []int{1, 48, 80, 1001, pieces[1].nbits / 2, pieces[1].nbits - 1} {
		split := append([]*piece{pieces[0]}, cutPiece(pieces[1], cut)...)
		split = append(split, pieces[2:]...)
		r := &Reader{order: make(chan *piece, len(split)), stop: make(chan struct{})}
		var dec decoder
		for _, p := range split {
			p.done = make(chan struct{})
			if !p.end && p.err == nil {
				p.out, p.decodeErr = dec.decode(p.level, []*piece{p}, nil)
			}
			close(p.done)
			r.order <- p
		}
		close(r.order)
		got, err := io.ReadAll(r)
		require.NoError(t, err, "cut at bit %d", cut)
		require.Equal(t, data, got, "cut at bit %d", cut)
	}
}

// cutPiece cuts block p at bit cut into two pieces, as a false start
// would: the second's CRC is whatever bits follow the cut.
func cutPiece(p *piece, cut int) []*piece {
	first := &piece{level: p.level, crc: p.crc, bits: copyBits(p.bits, 0, cut), nbits: cut}
	second := &piece{level: p.level, crc: 0xdeadbeef, bits: copyBits(p.bits, cut, p.nbits), nbits: p.nbits - cut}
	return []*piece{first, second}
}

// A Reader closed before the end stops its goroutines (goleak checks).
func TestCloseEarly(t *testing.T) {
	z := compress(t, text(1_000_000, 7), 1)
	r := NewReader(bytes.NewReader(z), 3)
	_, err := io.ReadFull(r, make([]byte, 1000))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	n, err := r.Read(make([]byte, 10))
	require.Zero(t, n)
	require.Error(t, err)
}

func TestBitWriter(t *testing.T) {
	var w bitWriter
	w.uint(0b101, 3)
	w.bitsFrom([]byte{0xff, 0x80}, 9)
	w.uint(0, 2)
	w.bitsFrom([]byte{0b1100_0000}, 2)
	require.Equal(t, []byte{0b1011_1111, 0b1111_0011}, w.flush())
	require.Equal(t, []byte{0b1011_0100, 0b1000_0000}, copyBits([]byte{0b0010_1101, 0b0010_0000}, 2, 11))
	require.True(t, errors.Is(corrupt("x"), ErrCorrupt))
}

// An end-of-stream magic inside a block's bits (as likely as a false block
// start) does not end the stream there: the scanner looks past it for the
// stream's real end, which a new stream or the end of the file follows. A
// stream is made here by hand (the scanner does not decode), its one
// block's bits holding the magic and then bits that are no stream header.
func TestFalseEndOfStreamIsSkipped(t *testing.T) {
	var w bitWriter
	w.bytes([]byte("BZh9"))
	w.uint(blockMagic, magicBits)
	w.uint(0x12345678, crcBits)
	w.uint(0b101, 3) // the block's bits, not byte-aligned
	w.uint(eosMagic, magicBits)
	w.uint(0xcafef00d, crcBits)
	w.bytes([]byte("not a header"))
	falseEnd := 32 + magicBits + crcBits + 3
	w.uint(eosMagic, magicBits)
	w.uint(0x12345678, crcBits)
	for _, tail := range [][]byte{nil, compress(t, []byte("more"), 1)} {
		var pieces []*piece
		s := scanner{src: bytes.NewReader(append(bytes.Clone(w.flush()), tail...))}
		s.run(func(p *piece) bool { pieces = append(pieces, p); return true })
		require.GreaterOrEqual(t, len(pieces), 2)
		require.Nil(t, pieces[0].err)
		require.False(t, pieces[0].end)
		require.Greater(t, 32+pieces[0].nbits, falseEnd+magicBits, "the block runs past the false end")
		require.True(t, pieces[1].end, "then the stream's real end")
		require.Equal(t, uint32(0x12345678), pieces[1].crc)
		for _, p := range pieces {
			require.NoError(t, p.err)
		}
	}
}

// FuzzReader: whatever the bytes, the Reader never panics, and it decodes
// what dsnet's sequential decoder decodes, the same bytes, or fails where
// that one fails. (The Reader runs in the driver when it spools a file: a
// panic there would end the job's driver.)
func FuzzReader(f *testing.F) {
	f.Add(compress(f, text(3000, 1), 1))
	f.Add(compress(f, nil, 9))
	two := append(compress(f, []byte("one\n"), 1), compress(f, []byte("two\n"), 2)...)
	f.Add(two)
	f.Add(two[:len(two)-3])
	f.Add([]byte("BZh9\x31\x41\x59\x26\x53\x59"))
	f.Add([]byte("BZh1\x17\x72\x45\x38\x50\x90\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, z []byte) {
		got, err := decode(z, 2)
		zr, _ := bzip2.NewReader(bytes.NewReader(z), nil)
		want, werr := io.ReadAll(zr)
		if err == nil && werr == nil {
			require.Equal(t, want, got)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("the Reader's error %v, the sequential decoder's %v", err, werr)
		}
	})
}
