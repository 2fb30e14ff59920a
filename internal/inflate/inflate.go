// Package inflate reads gzip files (RFC 1952) and the DEFLATE streams
// (RFC 1951) in them faster than compress/flate and
// klauspost/compress/flate, which decode one symbol per call through a
// bufio.Reader, a byte at a time: on text of words (`quern bench`'s) in
// half of klauspost's time and 0.4 of the standard library's, on text
// with more and longer matches in three quarters of klauspost's
// (go test -bench Gzip). It follows libdeflate's decoder instead:
//
//   - a 64-bit bit buffer refilled with one unaligned 8-byte load, so that
//     a whole length and offset pair decodes without a refill;
//   - one table lookup per code, its entry saying at once how many bits to
//     take, the code's and its extra bits' together, and what the code
//     means (a literal byte, a length or offset base), with up to three
//     literals decoded per refill, and the next code looked up before a
//     match is copied;
//   - matches copied 8 bytes at a time, the first 16 bytes whatever the
//     length, into an output buffer with room past its end for the
//     overshoot.
//
// Decoding is streamed: compressed bytes are read from the source in
// large pieces, and output is produced a buffer at a time, keeping the
// last 32 KiB that later matches may copy from.
//
// Go's compress/flate is the reference: the tests decode what it encodes,
// and a stream either decodes to the same bytes in both or fails in both.
package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt is wrapped by the error of a stream whose bytes are not
// valid DEFLATE or gzip. A stream cut short fails with
// io.ErrUnexpectedEOF instead.
var ErrCorrupt = errors.New("inflate: corrupt stream")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

const (
	windowSize = 32 << 10
	maxMatch   = 258

	// outChunk is how much output one round of decoding makes before its
	// reader hands it on and slides the window down.
	outChunk = 256 << 10
	// outSlack is the room past outLimit that one step of the decoding
	// loop may write: two literals and a match, copied 8 bytes at a time,
	// at least 16 (13 past the end of a match of 3) and up to 7 past the
	// end of a longer one: 2 + 264 bytes at most.
	outSlack = maxMatch + 16

	inBufSize = 256 << 10
	// inPad zero bytes follow the input, so that the bit buffer's 8-byte
	// loads never leave the slice, even past the end of the source.
	inPad = 64
	// inMargin is how close to the end of the input the decoding loop may
	// start a step and still take only bits that were read: a step
	// refills the bit buffer twice, each load taking 8 bytes and moving on
	// up to 7. Past it, at the end of the source, steps go one at a time
	// (tailStep).
	inMargin = 16
	// padLoads is how far past the end of the source ip may go while the
	// bit buffer loads the padding's zeros (8 bytes at a time, within
	// inPad): only the end of a stream cut short gets there.
	padLoads = 8
	// stepInput is how much input the decoding loop asks fill for: many
	// steps' worth, so that fill (and its copy) is rare.
	stepInput = 4 << 10
)

// blockState says what the decoder expects next.
type blockState uint8

const (
	atBlockHeader blockState = iota // the 3-bit header of a block
	inHuffman                       // codes of a block of type 1 or 2
	inStored                        // the bytes of a stored block
	atStreamEnd                     // the final block has ended
)

// decoder decodes one DEFLATE stream at a time from src.
type decoder struct {
	src io.Reader

	// in[ip:inEnd] are the compressed bytes read and not yet in the bit
	// buffer; inPad zero bytes follow inEnd. eof is set once src has
	// reported io.EOF; inLimit is the last ip at which the decoding loop
	// may start a step that takes only bits read (inEnd - inMargin).
	in      []byte
	ip      int
	inEnd   int
	inLimit int
	eof     bool

	// The bit buffer: its low bitsleft bits are the next bits of the
	// stream. Bits above them are the stream's next bits too, or zero,
	// so that a refill may OR a load over them (libdeflate's trick).
	bitbuf   uint64
	bitsleft uint

	// out[:op] is output: the window matches may copy from starts at
	// wmin (the start of the stream, or 32 KiB back), and the caller
	// takes what it has not yet taken. outLimit is the last op at which a
	// step may start.
	out      []byte
	op       int
	wmin     int
	outLimit int

	state   blockState
	final   bool // the block being decoded is the stream's last
	stored  int  // bytes left in a stored block
	litlen  *[litlenSlots]entry
	offset  *[offsetSlots]entry
	dynamic struct {
		litlen [litlenSlots]entry
		offset [offsetSlots]entry
	}
	precode [precodeSlots]entry
	lengths [numLitlenSyms + numOffsetSyms]uint8
}

func newDecoder(src io.Reader) *decoder {
	d := &decoder{src: src, in: make([]byte, inBufSize+inPad), out: make([]byte, windowSize+outChunk+outSlack)}
	d.init()
	return d
}

// init sets up a decoder whose src, in and out are set and the rest zero.
func (d *decoder) init() {
	d.outLimit = len(d.out) - outSlack
	d.inLimit = -1
}

// startStream makes the decoder expect a new DEFLATE stream at the next
// byte boundary, with no window to copy from.
func (d *decoder) startStream() {
	d.state = atBlockHeader
	d.final = false
	d.wmin = d.op
}

// fill moves the unread input to the front of in and reads more, until
// want bytes (at most inBufSize) are buffered or src ends.
func (d *decoder) fill(want int) error {
	if d.eof {
		return nil
	}
	// Keep the whole bytes still in the bit buffer: alignToByte may give
	// them back.
	keep := d.ip - int(d.bitsleft>>3)
	copy(d.in, d.in[keep:d.inEnd])
	d.ip -= keep
	d.inEnd -= keep
	for !d.eof && d.inEnd < want {
		k, err := d.src.Read(d.in[d.inEnd : len(d.in)-inPad])
		d.inEnd += k
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			return err
		}
	}
	clear(d.in[d.inEnd:])
	d.inLimit = d.inEnd - inMargin
	return nil
}

// overread reports whether the stream has taken, or is looking at, bits
// past the end of its source: the bits of the padding.
func (d *decoder) overread(lookahead uint) bool {
	return d.eof && uint(d.ip)*8+lookahead > uint(d.inEnd)*8+d.bitsleft
}

// fail returns the error for a stream that does not decode: cut short if
// it reached past the end of its source (a truncated file decodes the
// padding's zeros into nonsense), else corrupt.
func (d *decoder) fail(err error) error {
	if d.overread(maxCodeBits) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// refill tops the bit buffer up to at least 56 bits. (need keeps ip
// within the padding, so the 8-byte load stays inside in.)
func (d *decoder) refill() {
	d.ip, d.bitbuf, d.bitsleft = refillLocals(d.in, d.ip, d.bitbuf, d.bitsleft)
}

// need makes the bit buffer hold n bits (at most 56), reading more input
// if the buffer is near its end. At the end of the source the bits may be
// the padding's; a caller that takes them fails, and fail tells that the
// stream was cut short.
func (d *decoder) need(n uint) error {
	if d.bitsleft >= n {
		return nil
	}
	if d.ip > d.inLimit {
		if err := d.fill(stepInput); err != nil {
			return err
		}
		if d.ip > d.inEnd+padLoads {
			return io.ErrUnexpectedEOF
		}
	}
	d.refill()
	return nil
}

// peek returns the next n whole bytes of input (the bit buffer aligned and
// empty), without taking them; io.ErrUnexpectedEOF if src ends first.
func (d *decoder) peek(n int) ([]byte, error) {
	if d.inEnd-d.ip < n {
		if err := d.fill(n); err != nil {
			return nil, err
		}
		if d.inEnd-d.ip < n {
			return nil, io.ErrUnexpectedEOF
		}
	}
	return d.in[d.ip : d.ip+n], nil
}

// take removes n bits (at most the buffer's) and returns them.
func (d *decoder) take(n uint) uint32 {
	v := uint32(d.bitbuf & (1<<n - 1))
	d.bitbuf >>= n
	d.bitsleft -= n
	return v
}

// alignToByte drops the bits up to the next byte boundary and gives the
// whole bytes left in the bit buffer back to the input, so that in[ip:] is
// the stream from that boundary on.
func (d *decoder) alignToByte() {
	d.take(d.bitsleft & 7)
	d.ip -= int(d.bitsleft >> 3)
	d.bitbuf, d.bitsleft = 0, 0
}

// refillLocals is refill for the decoding loop, whose bit buffer and
// input position are locals: it returns them topped up to at least 56
// bits. (Small enough to be inlined.)
func refillLocals(in []byte, ip int, bitbuf uint64, bitsleft uint) (int, uint64, uint) {
	bitbuf |= load64(in, ip) << (bitsleft & 63)
	return ip + int(7-(bitsleft>>3)&7), bitbuf, bitsleft | 56
}

// inflate decodes until the output buffer is full (op > outLimit) or the
// stream ends (state atStreamEnd).
func (d *decoder) inflate() error {
	for d.op <= d.outLimit {
		switch d.state {
		case atBlockHeader:
			if d.final {
				d.state = atStreamEnd
				continue
			}
			if err := d.blockHeader(); err != nil {
				return d.fail(err)
			}
		case inHuffman:
			if d.ip <= d.inLimit {
				if err := d.huffman(d.inLimit, d.outLimit); err != nil {
					return d.fail(err)
				}
				continue
			}
			if !d.eof {
				if err := d.fill(stepInput); err != nil {
					return err
				}
				continue
			}
			if err := d.tailStep(); err != nil {
				return err
			}
		case inStored:
			if err := d.copyStored(); err != nil {
				return err
			}
		case atStreamEnd:
			if d.overread(0) {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
	}
	return nil
}

// tailStep decodes one step of a block in the last bytes of the source,
// where a step may take bits past its end, the padding's zeros: then the
// file was cut short, and the step's output is taken back, so that no byte
// decoded from past the end is ever read.
func (d *decoder) tailStep() error {
	if d.ip > d.inEnd+padLoads {
		return io.ErrUnexpectedEOF
	}
	before := d.op
	if err := d.huffman(d.inEnd+padLoads, d.op); err != nil {
		return d.fail(err)
	}
	if d.overread(0) {
		d.op = before
		return io.ErrUnexpectedEOF
	}
	return nil
}

// blockHeader reads a block's header and, for a block of dynamic codes,
// its code lengths, and sets up the block's decoding.
func (d *decoder) blockHeader() error {
	if err := d.need(3); err != nil {
		return err
	}
	d.final = d.take(1) == 1
	switch d.take(2) {
	case 0:
		d.alignToByte()
		b, err := d.peek(4)
		if err != nil {
			return err
		}
		n := binary.LittleEndian.Uint16(b)
		if ^n != binary.LittleEndian.Uint16(b[2:]) {
			return corrupt("a stored block's length %d does not match its complement", n)
		}
		d.ip += 4
		d.stored = int(n)
		d.state = inStored
	case 1:
		d.litlen, d.offset = &fixedLitlen, &fixedOffset
		d.state = inHuffman
	case 2:
		if err := d.dynamicHeader(); err != nil {
			return err
		}
		d.litlen, d.offset = &d.dynamic.litlen, &d.dynamic.offset
		d.state = inHuffman
	default:
		return corrupt("block type 3 is reserved")
	}
	return nil
}

// precodeOrder is the order in which a dynamic block sends the code
// lengths of its code-length alphabet.
var precodeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamicHeader reads the code lengths of a block of type 2 (RFC 1951
// section 3.2.7) and builds its tables.
func (d *decoder) dynamicHeader() error {
	if err := d.need(14); err != nil {
		return err
	}
	nlitlen := 257 + int(d.take(5))
	noffset := 1 + int(d.take(5))
	nprecode := 4 + int(d.take(4))
	if nlitlen > 286 || noffset > 30 {
		return corrupt("a block has %d literal/length and %d offset codes (at most 286 and 30)", nlitlen, noffset)
	}
	var precodeLengths [19]uint8
	for i := range nprecode {
		if err := d.need(3); err != nil {
			return err
		}
		precodeLengths[precodeOrder[i]] = uint8(d.take(3))
	}
	if err := build(d.precode[:], precodeBits, precodeLengths[:], precodeSyms[:]); err != nil {
		return corrupt("code-length code: %v", err)
	}
	lengths := d.lengths[:nlitlen+noffset]
	for i := 0; i < len(lengths); {
		if err := d.need(precodeBits + 7); err != nil {
			return err
		}
		e := d.precode[d.bitbuf&(precodeSlots-1)]
		if e&badFlag != 0 {
			return corrupt("bad code-length code")
		}
		d.take(e.codeBits())
		sym := e.value()
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var repeat int
		var length uint8
		switch sym {
		case 16:
			if i == 0 {
				return corrupt("a repeat of the previous code length comes first")
			}
			repeat, length = 3+int(d.take(2)), lengths[i-1]
		case 17:
			repeat = 3 + int(d.take(3))
		default:
			repeat = 11 + int(d.take(7))
		}
		if i+repeat > len(lengths) {
			return corrupt("code lengths repeat past the %d codes of the block", len(lengths))
		}
		for j := range repeat {
			lengths[i+j] = length
		}
		i += repeat
	}
	if lengths[256] == 0 {
		return corrupt("a block has no end-of-block code")
	}
	if err := build(d.dynamic.litlen[:], litlenBits, lengths[:nlitlen], litlenSyms[:]); err != nil {
		return corrupt("literal/length code: %v", err)
	}
	if err := build(d.dynamic.offset[:], offsetBits, lengths[nlitlen:], offsetSyms[:]); err != nil {
		return corrupt("offset code: %v", err)
	}
	return nil
}

// copyStored copies a stored block's bytes from input to output.
func (d *decoder) copyStored() error {
	for d.stored > 0 {
		if d.op > d.outLimit {
			return nil
		}
		if d.ip >= d.inEnd {
			if d.eof {
				return io.ErrUnexpectedEOF
			}
			if err := d.fill(stepInput); err != nil {
				return err
			}
			continue
		}
		n := copy(d.out[d.op:min(len(d.out), d.op+d.stored)], d.in[d.ip:d.inEnd])
		d.op += n
		d.ip += n
		d.stored -= n
	}
	d.state = atBlockHeader
	return nil
}

// huffman decodes the codes of a block of type 1 or 2 until the block
// ends or the next step would start past inLimit (input) or outLimit
// (output). It is the hot loop: its state lives in locals, stored back
// when it returns.
func (d *decoder) huffman(inLimit, outLimit int) error {
	// The loop loads and stores without bounds checks (load64, store64,
	// loadByte, storeByte): a step's start limits (inMargin, padLoads and
	// outSlack) already prove that it stays within in and out, and checks
	// on every access cost a tenth of the decoder's time on text
	// (BenchmarkGzip/bench/inflate: 330 MB/s with them, 366 without).
	in, out := d.in, d.out
	bitbuf, bitsleft := d.bitbuf, d.bitsleft
	ip, op := d.ip, d.op
	// The offset table and the window's start are read from d where a
	// match needs them, not held in locals: the loop has more live values
	// than amd64 has registers, and with these two in registers the
	// compiler spilled the bit buffer to the stack between literals.
	litlen := d.litlen
	var err error
	if op > outLimit || ip > inLimit {
		return nil
	}
	// Each step starts with the bit buffer refilled and e, the entry of
	// its first code, looked up. A step ending in a match looks up the
	// next step's entry before it copies (libdeflate's order): the copy
	// does not wait on the lookup, nor the lookup on the copy.
	ip, bitbuf, bitsleft = refillLocals(in, ip, bitbuf, bitsleft)
	e := litlen[bitbuf&(1<<litlenBits-1)]
loop:
	for {
		if e&literalFlag != 0 {
			// A literal of the main table takes at most litlenBits
			// (11) bits, so three of them leave 23 of the 56: room for
			// the next code's main lookup. An entry's bits are e&63
			// (see huffman.go); the compiler drops an AND of 63 from a
			// shift (x86 masks the count itself), one instruction
			// fewer on the chain from one literal's lookup to the next.
			bitbuf >>= e & 63
			bitsleft -= uint(e & 63)
			storeByte(out, op, byte(e>>16))
			op++
			e = litlen[bitbuf&(1<<litlenBits-1)]
			if e&literalFlag != 0 {
				bitbuf >>= e & 63
				bitsleft -= uint(e & 63)
				storeByte(out, op, byte(e>>16))
				op++
				e = litlen[bitbuf&(1<<litlenBits-1)]
				if e&literalFlag != 0 {
					bitbuf >>= e & 63
					bitsleft -= uint(e & 63)
					storeByte(out, op, byte(e>>16))
					op++
					if op > outLimit || ip > inLimit {
						break loop
					}
					ip, bitbuf, bitsleft = refillLocals(in, ip, bitbuf, bitsleft)
					e = litlen[bitbuf&(1<<litlenBits-1)]
					continue
				}
			}
			// A length and offset may take 48 bits: refill. The refill
			// only ORs bits above bitsleft, so e still holds. (The
			// step's output stays within outSlack: two literals and a
			// match.)
			ip, bitbuf, bitsleft = refillLocals(in, ip, bitbuf, bitsleft)
		}
		if e&unusual != 0 {
			if e&subtableFlag != 0 {
				bitbuf >>= litlenBits
				bitsleft -= litlenBits
				e = litlen[e.value()+uint32(bitbuf&(1<<e.extraBits()-1))]
				if e&literalFlag != 0 {
					bitbuf >>= e & 63
					bitsleft -= uint(e & 63)
					storeByte(out, op, byte(e>>16))
					op++
					if op > outLimit || ip > inLimit {
						break loop
					}
					ip, bitbuf, bitsleft = refillLocals(in, ip, bitbuf, bitsleft)
					e = litlen[bitbuf&(1<<litlenBits-1)]
					continue
				}
			}
			if e&badFlag != 0 {
				err = corrupt("bad literal/length code")
				break loop
			}
			if e&endFlag != 0 {
				bitbuf >>= e & 63
				bitsleft -= uint(e & 63)
				d.state = atBlockHeader
				break loop
			}
		}
		saved := bitbuf
		bitbuf >>= e & 63
		bitsleft -= uint(e & 63)
		length := int(e.value()) + int(saved&(1<<(e&63)-1)>>(e>>12&15))

		offset := d.offset
		e = offset[bitbuf&(1<<offsetBits-1)]
		if e&unusual != 0 {
			if e&subtableFlag != 0 {
				bitbuf >>= offsetBits
				bitsleft -= offsetBits
				e = offset[e.value()+uint32(bitbuf&(1<<e.extraBits()-1))]
			}
			if e&badFlag != 0 {
				err = corrupt("bad offset code")
				break loop
			}
		}
		saved = bitbuf
		bitbuf >>= e & 63
		bitsleft -= uint(e & 63)
		dist := int(e.value()) + int(saved&(1<<(e&63)-1)>>(e>>12&15))

		src := op - dist
		if src < d.wmin {
			err = corrupt("a match copies from %d bytes back, before the stream's start", dist)
			break loop
		}
		more := ip <= inLimit
		if more {
			ip, bitbuf, bitsleft = refillLocals(in, ip, bitbuf, bitsleft)
			e = litlen[bitbuf&(1<<litlenBits-1)]
		}
		switch {
		case dist >= 8:
			// Whole words: each reads bytes written at least 8 back,
			// so an overlapping copy repeats its pattern correctly.
			// The first two are copied whatever the length (at least
			// 3, within outSlack), so that only a match longer than
			// 16 bytes takes the loop's branch.
			store64(out, op, load64(out, src))
			store64(out, op+8, load64(out, src+8))
			for i := 16; i < length; i += 8 {
				store64(out, op+i, load64(out, src+i))
			}
		case dist == 1:
			w := uint64(loadByte(out, src)) * 0x0101010101010101
			store64(out, op, w)
			store64(out, op+8, w)
			for i := 16; i < length; i += 8 {
				store64(out, op+i, w)
			}
		default:
			for i := range length {
				storeByte(out, op+i, loadByte(out, src+i))
			}
		}
		op += length
		if !more || op > outLimit {
			break
		}
	}
	// The locals go back, whether the loop ended or broke out (the state
	// of a failed stream no longer matters).
	d.bitbuf, d.bitsleft, d.ip, d.op = bitbuf, bitsleft, ip, op
	return err
}
