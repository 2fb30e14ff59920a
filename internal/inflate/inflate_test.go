package inflate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// text makes n bytes that compress the way real input does: words from a
// small vocabulary (short matches, near and far), runs of one byte
// (matches at distance 1), and stretches of random bytes (literals, and
// stored blocks where nothing compresses).
func text(r *rand.Rand, n int) []byte {
	words := strings.Fields("the of and to in a is that for it as was with be by on not he I this are or his from at which but have an they you were her she there been one all we their when so no more if out up said what its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three")
	var b bytes.Buffer
	for b.Len() < n {
		switch k := r.IntN(100); {
		case k < 2:
			b.Write(bytes.Repeat([]byte{byte(r.IntN(256))}, 1+r.IntN(600)))
		case k < 4:
			junk := make([]byte, 1+r.IntN(3000))
			for i := range junk {
				junk[i] = byte(r.Uint32())
			}
			b.Write(junk)
		case k < 8:
			// a long repeat of a recent stretch: long matches, and
			// matches close to 32 KiB back
			if b.Len() > 300 {
				from := r.IntN(min(b.Len(), 32<<10) - 258)
				chunk := b.Bytes()[b.Len()-from-258 : b.Len()-from]
				b.Write(append([]byte(nil), chunk...))
			}
		default:
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(" \n.,"[r.IntN(4)])
		}
	}
	return b.Bytes()[:n]
}

// gzipOf compresses data as one gzip member at level, with the header
// fields given.
func gzipOf(t require.TestingT, data []byte, level int, name, comment string, extra []byte) []byte {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, level)
	require.NoError(t, err)
	zw.Name, zw.Comment, zw.Extra = name, comment, extra
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func readAll(src io.Reader) ([]byte, error) {
	z, err := NewReader(src)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// reusing reads many files with one Reader, through Reset, as the input
// package's readers of many small files do.
type reusing struct{ z *Reader }

func (r *reusing) readAll(src io.Reader) ([]byte, error) {
	if r.z == nil {
		return readAll(src)
	}
	if err := r.z.Reset(src); err != nil {
		return nil, err
	}
	return io.ReadAll(r.z)
}

// TestDecodesWhatFlateEncodes: any data, at any level (stored blocks,
// Huffman-only, fixed and dynamic codes), in one member or several, with
// any header fields, read through a source that returns any number of
// bytes at a time, decodes to the data.
func TestDecodesWhatFlateEncodes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
		members := rapid.IntRange(1, 3).Draw(t, "members")
		var want, file []byte
		for m := range members {
			n := rapid.OneOf(rapid.IntRange(0, 300), rapid.IntRange(0, 70_000), rapid.IntRange(250_000, 700_000)).Draw(t, "size")
			data := text(r, n)
			level := rapid.IntRange(flate.HuffmanOnly, flate.BestCompression).Draw(t, "level")
			var name, comment string
			var extra []byte
			if rapid.Bool().Draw(t, "fields") {
				name, comment, extra = fmt.Sprintf("member-%d.txt", m), "a comment", []byte{1, 2, 3}
			}
			var z []byte
			if rapid.Bool().Draw(t, "klauspost") {
				var b bytes.Buffer
				zw, err := kgzip.NewWriterLevel(&b, max(level, kgzip.HuffmanOnly))
				require.NoError(t, err)
				zw.Write(data)
				require.NoError(t, zw.Close())
				z = b.Bytes()
			} else {
				z = gzipOf(t, data, level, name, comment, extra)
			}
			want = append(want, data...)
			file = append(file, z...)
		}
		var src io.Reader = bytes.NewReader(file)
		switch rapid.IntRange(0, 2).Draw(t, "source") {
		case 1:
			src = iotest.HalfReader(src)
		case 2:
			src = iotest.DataErrReader(src)
		}
		got, err := readAll(src)
		require.NoError(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestOneByteAtATime reads a file that needs every kind of refill through a
// source that gives one byte per read.
func TestOneByteAtATime(t *testing.T) {
	data := text(rand.New(rand.NewPCG(1, 2)), 600_000)
	for _, level := range []int{flate.NoCompression, flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression} {
		got, err := readAll(iotest.OneByteReader(bytes.NewReader(gzipOf(t, data, level, "n", "c", []byte("x")))))
		require.NoError(t, err, "level %d", level)
		require.True(t, bytes.Equal(got, data), "level %d: first difference at %d", level, firstDiff(got, data))
	}
}

// TestCutShort: a file cut at any byte fails with io.ErrUnexpectedEOF,
// never succeeds, and never returns bytes that are not the data's.
func TestCutShort(t *testing.T) {
	data := text(rand.New(rand.NewPCG(3, 4)), 40_000)
	zr, err := NewReader(bytes.NewReader(gzipOf(t, nil, 6, "", "", nil)))
	require.NoError(t, err)
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression} {
		z := gzipOf(t, data, level, "name", "", nil)
		// Every cut in the header, in the first blocks and in the
		// trailer, and a sample of the rest.
		var cuts []int
		for cut := range len(z) {
			if cut < 600 || cut > len(z)-64 || cut%37 == 0 {
				cuts = append(cuts, cut)
			}
		}
		r := reusing{z: zr}
		for _, cut := range cuts {
			got, err := r.readAll(bytes.NewReader(z[:cut]))
			if cut == 0 {
				require.ErrorIs(t, err, io.EOF, "an empty file")
				continue
			}
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "level %d, cut at %d of %d", level, cut, len(z))
			// What comes before the error is the data's: nothing
			// decoded from past the cut reaches the reader.
			if d := firstDiff(got, data); d < len(got) {
				t.Fatalf("level %d, cut at %d of %d: %d bytes read, the data's only up to %d", level, cut, len(z), len(got), d)
			}
		}
	}
}

// TestDamagedBytes: every byte of a small file changed in turn decodes to
// what compress/gzip decodes it to, or fails in both.
func TestDamagedBytes(t *testing.T) {
	data := text(rand.New(rand.NewPCG(5, 6)), 2_000)
	zr, err := NewReader(bytes.NewReader(gzipOf(t, nil, 6, "", "", nil)))
	require.NoError(t, err)
	r := reusing{z: zr}
	for _, level := range []int{flate.NoCompression, flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		z := gzipOf(t, data, level, "", "", nil)
		for i := range z {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(z)
				bad[i] ^= mask
				got, err := r.readAll(bytes.NewReader(bad))
				ref, refErr := referenceRead(bad)
				if i == 3 && bad[3]&flagReserved != 0 {
					// compress/gzip ignores the reserved flags; gzip -d
					// and zlib refuse them, as RFC 1952 asks.
					require.ErrorContains(t, err, "reserved flags")
					continue
				}
				if (err == nil) != (refErr == nil) {
					t.Fatalf("level %d, byte %d ^ %#x: error %v, compress/gzip's %v", level, i, mask, err, refErr)
				}
				if err == nil && !bytes.Equal(got, ref) {
					t.Fatalf("level %d, byte %d ^ %#x: decodes to other bytes than compress/gzip", level, i, mask)
				}
			}
		}
	}
}

func referenceRead(z []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return io.ReadAll(zr)
}

// TestSourceError: a read of the file that fails is the reader's error,
// wherever it comes: in a member, or just after one, where the file could
// have ended (which must not pass for its end).
func TestSourceError(t *testing.T) {
	data := text(rand.New(rand.NewPCG(11, 12)), 100_000)
	z := gzipOf(t, data, 6, "", "", nil)
	boom := errors.New("read failed")
	for _, cut := range []int{1, 5, 10, 11, 500, len(z) / 2, len(z) - 8, len(z) - 1, len(z)} {
		src := io.MultiReader(bytes.NewReader(z[:cut]), iotest.ErrReader(boom))
		_, err := readAll(src)
		require.ErrorIs(t, err, boom, "a read failing after %d of %d bytes", cut, len(z))
	}
}

// TestTrailingBytes: zero bytes after the last member end the file; other
// bytes fail it, counted.
func TestTrailingBytes(t *testing.T) {
	data := []byte("some words\n")
	z := gzipOf(t, data, 6, "", "", nil)

	got, err := readAll(bytes.NewReader(append(bytes.Clone(z), make([]byte, 1000)...)))
	require.NoError(t, err)
	require.Equal(t, data, got)

	_, err = readAll(bytes.NewReader(append(bytes.Clone(z), "garbage\n"...)))
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "followed by 8 bytes that are not gzip data")

	_, err = readAll(bytes.NewReader(append(bytes.Clone(z), 0x1f)))
	require.ErrorContains(t, err, "followed by 1 bytes")
}

func TestNotGzip(t *testing.T) {
	_, err := NewReader(strings.NewReader("plain text, not gzip\n"))
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "not a gzip file")
}

// TestMatchBeforeStart: a match may not reach before its stream's start,
// in the first member or in a later one (members do not share a window).
func TestMatchBeforeStart(t *testing.T) {
	// One fixed-code block: the literal 'a', then a match of length 3 at
	// distance 2 (one byte further back than there is), then end.
	var w bitWriter
	w.bits(1, 1) // final
	w.bits(1, 2) // fixed codes
	w.code(0x30+'a', 8)
	w.code(1, 7) // length symbol 257: length 3
	w.code(1, 5) // offset symbol 1: distance 2
	w.code(0, 7) // end of block
	stream := w.flush()
	member := func(raw []byte) []byte {
		m := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
		return append(append(m, raw...), make([]byte, 8)...)
	}
	_, err := readAll(bytes.NewReader(member(stream)))
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "before the stream's start")

	good := gzipOf(t, []byte("0123456789"), 6, "", "", nil)
	_, err = readAll(bytes.NewReader(append(good, member(stream)...)))
	require.ErrorContains(t, err, "before the stream's start")
}

// bitWriter writes a DEFLATE stream by hand: values LSB first, Huffman
// codes MSB first.
type bitWriter struct {
	out   []byte
	acc   uint64
	count uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.count
	w.count += n
	for w.count >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.count -= 8
	}
}

func (w *bitWriter) code(c uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
}

func (w *bitWriter) flush() []byte {
	if w.count > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}

// FuzzReader: whatever the bytes, the reader does not panic, and when it
// decodes them compress/gzip decodes them to the same bytes.
func FuzzReader(f *testing.F) {
	data := text(rand.New(rand.NewPCG(7, 8)), 3000)
	for _, level := range []int{0, -2, 1, 6, 9} {
		f.Add(gzipOf(f, data, level, "n", "c", nil))
	}
	f.Fuzz(func(t *testing.T, z []byte) {
		got, err := readAll(bytes.NewReader(z))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor io.ErrUnexpectedEOF", err)
			}
			return
		}
		zr, rerr := gzip.NewReader(bytes.NewReader(z))
		if rerr != nil {
			t.Fatalf("decoded, but compress/gzip refuses the header: %v", rerr)
		}
		ref, rerr := io.ReadAll(zr)
		if rerr == nil && !bytes.Equal(got, ref) {
			t.Fatalf("decodes to other bytes than compress/gzip")
		}
	})
}
