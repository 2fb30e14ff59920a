package inflate

import (
	"encoding/binary"
	"hash/crc32"
	"io"
)

// Reader reads the decompressed bytes of a gzip file of one member or
// several (pigz, bgzip and concatenated .gz files have several, and gzip -d
// reads them as one), each checked against the CRC-32 and length in its
// trailer. Zero bytes after the last member end the file, as gzip -d
// ignores them too (the padding of tar and of block devices); any other
// bytes there fail the read with an error that counts them.
//
// A gzip member (RFC 1952) is:
//
//	+---+---+----+-----+-------+-----+----+
//	|1f |8b | CM | FLG | MTIME | XFL | OS |  10 bytes; CM is 8 (DEFLATE)
//	+---+---+----+-----+-------+-----+----+
//	then, as FLG says: FEXTRA (4) a 2-byte length and that many bytes;
//	FNAME (8) and FCOMMENT (16) zero-terminated strings; FHCRC (2) the
//	low 16 bits of the CRC-32 of the header so far
//	then the DEFLATE stream, then 8 bytes: the CRC-32 of the member's
//	decompressed bytes and their length mod 2^32, both little-endian.
type Reader struct {
	d  *decoder
	rp int // d.out[rp:d.op] is decoded and not yet read

	crc  uint32 // of the member's output so far
	size uint32
	err  error
}

// NewReader reads the first member's header from src; an empty src
// returns io.EOF, and bytes that are not gzip an error wrapping
// ErrCorrupt.
func NewReader(src io.Reader) (*Reader, error) {
	z := &Reader{d: newDecoder(src)}
	if err := z.header(true); err != nil {
		return nil, err
	}
	return z, nil
}

// Reset makes z read the gzip file src, as NewReader would, keeping its
// buffers (half a megabyte), so that a reader of many small files
// allocates once.
func (z *Reader) Reset(src io.Reader) error {
	d := z.d
	*d = decoder{src: src, in: d.in, out: d.out}
	d.init()
	*z = Reader{d: d}
	return z.header(true)
}

// Read reads decompressed bytes. The error after the last byte is io.EOF;
// a file cut short fails with io.ErrUnexpectedEOF, damaged bytes with an
// error wrapping ErrCorrupt, and an error of src is returned as it is.
func (z *Reader) Read(p []byte) (int, error) {
	for z.rp == z.d.op {
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.advance()
	}
	n := copy(p, z.d.out[z.rp:z.d.op])
	z.rp += n
	return n, nil
}

// Close releases nothing: it is there for the io.ReadCloser a caller may
// want. It does not close src.
func (z *Reader) Close() error { return nil }

// advance decodes the next piece of output into the decoder's buffer (all
// of the buffer has been read), or finishes a member and starts the next.
func (z *Reader) advance() error {
	d := z.d
	if d.state == atStreamEnd {
		if err := z.trailer(); err != nil {
			return err
		}
		if err := z.header(false); err != nil {
			return err
		}
	}
	if d.op > d.outLimit {
		// Slide: keep the last 32 KiB, which later matches may copy.
		keep := d.op - windowSize
		copy(d.out, d.out[keep:d.op])
		d.op -= keep
		d.wmin = max(d.wmin-keep, 0)
		z.rp = d.op
	}
	start := d.op
	err := d.inflate()
	z.crc = crc32.Update(z.crc, crc32.IEEETable, d.out[start:d.op])
	z.size += uint32(d.op - start)
	return err
}

// trailer checks the member's CRC-32 and length against what it decoded.
func (z *Reader) trailer() error {
	d := z.d
	d.alignToByte()
	b, err := d.peek(8)
	if err != nil {
		return err
	}
	if crc := binary.LittleEndian.Uint32(b); crc != z.crc {
		return corrupt("gzip member's CRC-32 is %08x, its bytes' %08x", crc, z.crc)
	}
	if size := binary.LittleEndian.Uint32(b[4:]); size != z.size {
		return corrupt("gzip member's length is %d (mod 2^32), its bytes' %d", size, z.size)
	}
	d.ip += 8
	return nil
}

const (
	flagHeaderCRC = 1 << 1
	flagExtra     = 1 << 2
	flagName      = 1 << 3
	flagComment   = 1 << 4
	flagReserved  = 0xe0
)

// header reads a member's header and starts its stream. After the first
// member, the end of src is io.EOF and other bytes than a member are
// trailing (see Reader).
func (z *Reader) header(first bool) error {
	d := z.d
	magic, err := d.peek(2)
	if err != nil {
		if err != io.ErrUnexpectedEOF {
			return err // src failed: not the end of the file
		}
		if d.ip == d.inEnd {
			return io.EOF // nothing left: an empty file, or the end after the last member
		}
		if first {
			return err
		}
		return z.trailing()
	}
	if magic[0] != 0x1f || magic[1] != 0x8b {
		if first {
			return corrupt("not a gzip file (it starts % x, not 1f 8b)", magic)
		}
		return z.trailing()
	}
	h, err := d.peek(10)
	if err != nil {
		return err
	}
	if h[2] != 8 {
		return corrupt("gzip member's compression method is %d, not 8 (DEFLATE)", h[2])
	}
	flags := h[3]
	if flags&flagReserved != 0 {
		return corrupt("gzip member's header sets reserved flags %#x", flags&flagReserved)
	}
	hcrc := crc32.Update(0, crc32.IEEETable, h)
	d.ip += 10
	if flags&flagExtra != 0 {
		b, err := d.peek(2)
		if err != nil {
			return err
		}
		n := 2 + int(binary.LittleEndian.Uint16(b))
		if b, err = d.peek(n); err != nil {
			return err
		}
		hcrc = crc32.Update(hcrc, crc32.IEEETable, b)
		d.ip += n
	}
	for _, flag := range []byte{flagName, flagComment} {
		if flags&flag == 0 {
			continue
		}
		for { // a zero-terminated string, of any length
			b, err := d.peek(1)
			if err != nil {
				return err
			}
			hcrc = crc32.Update(hcrc, crc32.IEEETable, b)
			d.ip++
			if b[0] == 0 {
				break
			}
		}
	}
	if flags&flagHeaderCRC != 0 {
		b, err := d.peek(2)
		if err != nil {
			return err
		}
		if want := binary.LittleEndian.Uint16(b); want != uint16(hcrc) {
			return corrupt("gzip member's header CRC is %04x, its bytes' %04x", want, uint16(hcrc))
		}
		d.ip += 2
	}
	z.crc, z.size = 0, 0
	d.startStream()
	return nil
}

// trailing reads what follows the last member: io.EOF if it is only zero
// bytes, else an error that counts it.
func (z *Reader) trailing() error {
	d := z.d
	var n, nonzero int64
	for {
		for _, b := range d.in[d.ip:d.inEnd] {
			if b != 0 {
				nonzero++
			}
		}
		n += int64(d.inEnd - d.ip)
		d.ip = d.inEnd
		if d.eof {
			break
		}
		if err := d.fill(1); err != nil {
			return err
		}
	}
	if nonzero == 0 {
		return io.EOF
	}
	return corrupt("the last gzip member is followed by %d bytes that are not gzip data "+
		"(trailing garbage, which gzip -d ignores with a warning; remove it, or decompress the file first)", n)
}
