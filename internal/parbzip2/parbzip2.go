// Package parbzip2 decodes bzip2 files on several cores, as pbzip2 and
// lbzip2 do. A bzip2 stream is a sequence of blocks of up to 900 kB of
// input each, and each block is compressed on its own: Reader finds where
// the blocks start, decodes several at a time, and hands their bytes on in
// order. One decoder reads bzip2 at about 30 MB/s of output (the standard
// library's) to 35 MB/s (github.com/dsnet/compress, which Reader uses;
// BenchmarkDecode), so a .bz2 file read on one core is what a job over it
// waits for.
//
// # Format (what Reader relies on)
//
// A file is one or more streams. A stream is the bytes "BZh" and a block
// size digit '1' to '9' (hundreds of kB), then blocks, then an end of
// stream, then zero bits to the next byte boundary. A block starts with
// the 48-bit magic 0x314159265359 and the 32-bit CRC of its decoded
// bytes; the end of stream is the 48-bit magic 0x177245385090 and the
// stream's CRC, which combines its blocks' CRCs (rotate left by one, xor
// the next). Blocks are not byte-aligned: each magic can start at any bit.
// All numbers are big-endian, bits most significant first.
//
// A block is found by searching for its magic bit by bit. The magic may
// also occur inside a block's compressed bits (about once in 2^48 bit
// positions: once per 35 TB); such a false start splits a block in two,
// neither of which decodes, and Reader then decodes the pieces together.
// An end-of-stream magic is taken for one only where the file ends or a
// stream header follows it. Each piece is decoded as a stream of its
// own, made of a header, its bits and an end of stream, by a sequential
// decoder, which checks the block's CRC; Reader checks each stream's CRC
// against its blocks'.
package parbzip2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/dsnet/compress/bzip2"
)

const (
	blockMagic = 0x314159265359
	eosMagic   = 0x177245385090
	magicBits  = 48
	crcBits    = 32

	// readSize is how much compressed input the scanner reads at a time.
	readSize = 1 << 20
	// maxMerge bounds how many pieces of a block split by false starts
	// are decoded together before the block is taken to be corrupt.
	maxMerge = 4
)

// ErrCorrupt is wrapped by the errors of a stream that is not valid
// bzip2.
var ErrCorrupt = errors.New("parbzip2: corrupt stream")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// A piece is a block of a stream as the scanner cut it, or the end of a
// stream, or the scanner's error, in the order of the file.
type piece struct {
	level byte   // the stream's block size digit
	bits  []byte // the block's bits from its magic on, from bit 0
	nbits int
	crc   uint32 // the block's CRC, or at the end of a stream its CRC

	end bool  // the end of a stream
	err error // the scanner's error; the last piece

	done chan struct{} // closed once out and decodeErr are set
	out  []byte
	// decodeErr is the block's decoding error, which a false start
	// explains if the block decodes together with the next piece.
	decodeErr error
}

// Reader decodes a bzip2 file, several blocks at a time. Close it to stop
// its goroutines, whether or not it was read to the end.
type Reader struct {
	order chan *piece // every piece, in file order
	work  chan *piece // blocks, for the decoders
	stop  chan struct{}
	wg    sync.WaitGroup

	cur  []byte // decoded bytes not yet read
	held []byte // the block cur is part of, given back once read
	// free holds blocks' buffers read to the end, for the decoders to
	// decode into again: a block is up to 900 kB, and a buffer each, left
	// to the collector, made the decoding process's heap twice as large.
	free      chan []byte
	next      *piece // a piece taken from order and not yet used
	streamCRC uint32 // the combined CRC of the stream's blocks so far
	err       error
	once      sync.Once
}

// NewReader returns a Reader of src that decodes up to workers blocks at
// a time (at least one).
func NewReader(src io.Reader, workers int) *Reader {
	workers = max(workers, 1)
	r := &Reader{
		order: make(chan *piece, workers),
		work:  make(chan *piece, workers),
		stop:  make(chan struct{}),
		free:  make(chan []byte, 2*workers+2),
	}
	r.wg.Add(1 + workers)
	go func() {
		defer r.wg.Done()
		defer close(r.work)
		defer close(r.order)
		s := scanner{src: src}
		s.run(r.send)
	}()
	for range workers {
		go func() {
			defer r.wg.Done()
			var dec decoder
			for p := range r.work {
				var buf []byte
				select {
				case buf = <-r.free:
				default:
				}
				p.out, p.decodeErr = dec.decode(p.level, []*piece{p}, buf)
				close(p.done)
			}
		}()
	}
	return r
}

// send hands p to the decoders (a block) and to Read; false once the
// Reader is closed.
func (r *Reader) send(p *piece) bool {
	p.done = make(chan struct{})
	if p.end || p.err != nil {
		close(p.done)
	} else {
		select {
		case r.work <- p:
		case <-r.stop:
			return false
		}
	}
	select {
	case r.order <- p:
		return true
	case <-r.stop:
		return false
	}
}

// errClosed is the error of a Read after Close.
var errClosed = errors.New("parbzip2: read after Close")

// Close stops the Reader's goroutines and waits for them. It must not be
// called while a Read runs.
func (r *Reader) Close() error {
	r.cur, r.err = nil, errClosed
	r.once.Do(func() {
		close(r.stop)
		// Take the blocks not yet decoded, so that the decoders stop
		// after the ones they hold.
		for range r.work {
		}
		r.wg.Wait()
	})
	return nil
}

// Read reads decoded bytes.
func (r *Reader) Read(b []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.held != nil {
			select {
			case r.free <- r.held[:0]:
			default:
			}
		}
		r.cur, r.err = r.nextBlock()
		r.held = r.cur
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// take returns the next piece in file order, nil after the last.
func (r *Reader) take() *piece {
	if p := r.next; p != nil {
		r.next = nil
		return p
	}
	select {
	case p := <-r.order:
		if p == nil {
			return nil
		}
		select {
		case <-p.done:
			return p
		case <-r.stop:
			return nil
		}
	case <-r.stop:
		return nil
	}
}

// nextBlock returns the next block's decoded bytes, checking each
// stream's CRC at its end; io.EOF after the last stream.
func (r *Reader) nextBlock() ([]byte, error) {
	for {
		p := r.take()
		switch {
		case p == nil:
			return nil, io.EOF
		case p.err != nil:
			return nil, p.err
		case p.end:
			if p.crc != r.streamCRC {
				return nil, corrupt("stream CRC %08x, its blocks' %08x", p.crc, r.streamCRC)
			}
			r.streamCRC = 0
			continue
		}
		out, err := p.out, p.decodeErr
		if err != nil {
			out, err = r.merge(p)
			if err != nil {
				return nil, err
			}
		}
		r.streamCRC = (r.streamCRC<<1 | r.streamCRC>>31) ^ p.crc
		if len(out) > 0 {
			return out, nil
		}
	}
}

// merge decodes block p, which did not decode alone, together with the
// pieces after it, in case false starts cut it. The error is p's own if
// no merge decodes.
func (r *Reader) merge(p *piece) ([]byte, error) {
	pieces := []*piece{p}
	var dec decoder
	for len(pieces) < maxMerge {
		q := r.take()
		if q == nil || q.err != nil || q.end {
			r.next = q
			break
		}
		pieces = append(pieces, q)
		if out, err := dec.decode(p.level, pieces, nil); err == nil {
			return out, nil
		}
	}
	return nil, p.decodeErr
}

// decoder decodes one block at a time as a stream of its own.
type decoder struct {
	zr     *bzip2.Reader
	stream bitWriter
}

// decode decodes the bits of pieces, one block, whose CRC is the first's,
// into buf[:0], growing it as needed.
func (d *decoder) decode(level byte, pieces []*piece, buf []byte) ([]byte, error) {
	w := &d.stream
	w.reset()
	w.bytes([]byte{'B', 'Z', 'h', level})
	for _, p := range pieces {
		w.bitsFrom(p.bits, p.nbits)
	}
	w.uint(eosMagic, magicBits)
	w.uint(uint64(pieces[0].crc), crcBits)
	src := bytes.NewReader(w.flush())
	if d.zr == nil {
		d.zr, _ = bzip2.NewReader(src, nil) // never fails
	} else if err := d.zr.Reset(src); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(buf[:0])
	if _, err := out.ReadFrom(d.zr); err != nil {
		return nil, corrupt("block decodes with error: %v", err)
	}
	return out.Bytes(), nil
}

// bitWriter appends bits, most significant first, to a byte slice.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, in the low n
	nacc uint
}

func (w *bitWriter) reset() { w.buf, w.acc, w.nacc = w.buf[:0], 0, 0 }

func (w *bitWriter) bytes(b []byte) {
	for _, c := range b {
		w.uint(uint64(c), 8)
	}
}

// uint appends the low n bits of v, n at most 56.
func (w *bitWriter) uint(v uint64, n uint) {
	w.acc = w.acc<<n | v&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
}

// bitsFrom appends the first n bits of b.
func (w *bitWriter) bitsFrom(b []byte, n int) {
	if w.nacc == 0 {
		w.buf = append(w.buf, b[:n/8]...)
	} else {
		for _, c := range b[:n/8] {
			w.uint(uint64(c), 8)
		}
	}
	if rest := uint(n % 8); rest > 0 {
		w.uint(uint64(b[n/8]>>(8-rest)), rest)
	}
}

// flush pads the last byte with zero bits and returns the bytes.
func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.uint(0, 8-w.nacc)
	}
	return w.buf
}

// scanner cuts a bzip2 file into pieces.
type scanner struct {
	src io.Reader
	buf []byte // compressed bytes; bit 0 is the first of buf[0]
	eof bool
}

// fill reads more input; false at the end of src.
func (s *scanner) fill() (bool, error) {
	if s.eof {
		return false, nil
	}
	n := len(s.buf)
	s.buf = slices.Grow(s.buf, readSize)[:n+readSize]
	k, err := io.ReadFull(s.src, s.buf[n:])
	s.buf = s.buf[:n+k]
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		s.eof = true
		err = nil
	}
	return k > 0, err
}

// drop forgets the input before byte i.
func (s *scanner) drop(i int) {
	s.buf = s.buf[:copy(s.buf, s.buf[i:])]
}

// run sends the file's pieces in order, the last one an error if the
// file does not end where a stream does. It stops when send is false.
func (s *scanner) run(send func(*piece) bool) {
	err := s.scan(send)
	if err != nil {
		send(&piece{err: err})
	}
}

func (s *scanner) scan(send func(*piece) bool) error {
	for streams := 0; ; streams++ {
		// A stream starts at a byte boundary, at buf[0].
		for len(s.buf) < 4 {
			more, err := s.fill()
			if err != nil {
				return err
			}
			if !more {
				switch {
				case streams == 0:
					return io.ErrUnexpectedEOF
				case len(s.buf) == 0:
					return nil
				}
				return corrupt("%d bytes after the end of the last stream", len(s.buf))
			}
		}
		if !streamHeader(s.buf) {
			if streams > 0 {
				return corrupt("data after the end of stream %d", streams)
			}
			return corrupt("not a bzip2 stream")
		}
		level := s.buf[3]
		pos := 32 // the bit after the header: a block or the end of stream
		for {
			magic, ok, err := s.magicAt(pos)
			if err != nil || !ok {
				return cmpErr(err, io.ErrUnexpectedEOF)
			}
			if magic == eosMagic {
				crc, ok, err := s.bitsAt(pos+magicBits, crcBits)
				if err != nil || !ok {
					return cmpErr(err, io.ErrUnexpectedEOF)
				}
				if !send(&piece{end: true, crc: uint32(crc)}) {
					return nil
				}
				s.drop((pos + magicBits + crcBits + 7) / 8)
				break
			}
			if magic != blockMagic {
				return corrupt("no block or end of stream where one must start")
			}
			crc, ok, err := s.bitsAt(pos+magicBits, crcBits)
			if err != nil || !ok {
				return cmpErr(err, io.ErrUnexpectedEOF)
			}
			end, err := s.blockEnd(pos + magicBits + crcBits)
			if err != nil {
				return err
			}
			p := &piece{level: level, crc: uint32(crc), bits: copyBits(s.buf, pos, end), nbits: end - pos}
			if !send(p) {
				return nil
			}
			// Keep the byte that holds the next magic's first bit.
			s.drop(end / 8)
			pos = end % 8
		}
	}
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// bitsAt returns the n bits (at most 56) at bit pos, reading more input
// as needed; false if the input ends first.
func (s *scanner) bitsAt(pos, n int) (uint64, bool, error) {
	for (pos+n+7)/8 > len(s.buf) {
		more, err := s.fill()
		if err != nil || !more {
			return 0, false, err
		}
	}
	var v uint64
	for i := pos / 8; i < (pos+n+7)/8; i++ {
		v = v<<8 | uint64(s.buf[i])
	}
	extra := (pos+n+7)/8*8 - (pos + n) // bits read past pos+n
	return v >> extra & (1<<n - 1), true, nil
}

func (s *scanner) magicAt(pos int) (uint64, bool, error) { return s.bitsAt(pos, magicBits) }

// blockEnd returns where the block whose bits after its header start at
// bit from ends: at the next block magic, or at the next end-of-stream
// magic after which the file ends or a new stream starts. An end-of-stream
// magic that occurs by chance inside a block would otherwise end its
// stream there, and the file would fail to decode: unlike a false block
// start, which the Reader mends by decoding pieces together, a false end
// leaves the scanner looking for a stream header in a block's bits. If no
// magic follows an end that was passed over, that end was the real one,
// with bytes after it that are no stream: the caller then reports those.
func (s *scanner) blockEnd(from int) (int, error) {
	passed := -1 // the first end of stream passed over
	for {
		end, err := s.nextMagic(from)
		if err == io.ErrUnexpectedEOF && passed >= 0 {
			return passed, nil
		}
		if err != nil {
			return 0, err
		}
		magic, _, err := s.magicAt(end)
		if err != nil {
			return 0, err
		}
		if magic == blockMagic {
			return end, nil
		}
		ends, err := s.streamEndsAt(end)
		if err != nil || ends {
			return end, err
		}
		if passed < 0 {
			passed = end
		}
		from = end + 1
	}
}

// streamEndsAt reports whether the end-of-stream magic at bit pos is
// followed, past its CRC and padding, by the end of the file or by the
// header of another stream.
func (s *scanner) streamEndsAt(pos int) (bool, error) {
	next := (pos + magicBits + crcBits + 7) / 8
	_, ok, err := s.bitsAt(next*8, 32) // reads the 4 bytes in, if the file has them
	if err != nil || !ok {
		return len(s.buf) == next, err
	}
	return streamHeader(s.buf[next:]), nil
}

// streamHeader reports whether b starts with a stream header: "BZh" and a
// block size digit.
func streamHeader(b []byte) bool {
	return len(b) >= 4 && string(b[:3]) == "BZh" && b[3] >= '1' && b[3] <= '9'
}

// nextMagic returns the bit position of the first block or end of stream
// magic at or after bit from, reading more input as needed.
func (s *scanner) nextMagic(from int) (int, error) {
	i := from / 8
	for {
		// Magics starting in bytes i to len-8: each is read within one
		// 8-byte window from its byte.
		for ; i+8 <= len(s.buf); i++ {
			if !candidate[s.buf[i+2]] {
				continue
			}
			w := binary.BigEndian.Uint64(s.buf[i:])
			for shift := range 8 {
				if i*8+shift < from {
					continue
				}
				v := w >> (16 - shift) & (1<<magicBits - 1)
				if v == blockMagic || v == eosMagic {
					return i*8 + shift, nil
				}
			}
		}
		more, err := s.fill()
		if err != nil {
			return 0, err
		}
		if !more {
			// The last 7 bytes: a magic cannot start there and fit with
			// its CRC, so the stream was cut short.
			return 0, io.ErrUnexpectedEOF
		}
	}
}

// candidate says which bytes can be the third byte of a window of 8
// holding a magic at a bit shift of 0 to 7 from its first byte: bits 16 to
// 23 of the window are then bits 16-shift to 23-shift of the magic, all
// within its 48 bits, so a window whose third byte is not one of these 16
// values holds no magic and is skipped at the cost of one table lookup.
var candidate = func() (t [256]bool) {
	for _, m := range []uint64{blockMagic, eosMagic} {
		for shift := range 8 {
			// The magic at bit shift within a 64-bit window.
			w := m << (16 - shift)
			t[byte(w>>40)] = true
		}
	}
	return t
}()

// copyBits returns bits [from, to) of b, starting at bit 0 of its result.
func copyBits(b []byte, from, to int) []byte {
	n := to - from
	out := make([]byte, (n+7)/8)
	shift := uint(from % 8)
	src := b[from/8:]
	if shift == 0 {
		copy(out, src)
	} else {
		for i := range out {
			v := src[i] << shift
			if i+1 < len(src) {
				v |= src[i+1] >> (8 - shift)
			}
			out[i] = v
		}
	}
	if rest := uint(n % 8); rest > 0 {
		out[len(out)-1] &= 0xff << (8 - rest)
	}
	return out
}
