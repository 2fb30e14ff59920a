package input

import (
	"encoding/binary"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// UTF-16 text.
//
// Windows tools write text as UTF-16: PowerShell 5's `>` and Out-File,
// Notepad's "Unicode", SQL Server and Excel exports. Read byte by byte as
// UTF-8, such a file is one letter between NUL bytes, and a word count
// counts letters: a wrong answer without an error. A file that starts with
// a UTF-16 byte-order mark (FF FE little-endian, FE FF big-endian, as all
// of those tools write it) is therefore decoded to UTF-8 as it is read, the
// way a compressed file is decompressed: one split read from its start,
// Record offsets in the decoded UTF-8 bytes. Without a byte-order mark
// UTF-16 cannot be told from binary data, and is read as bytes.
//
// The decoding is RFC 2781's: each 16-bit unit in the byte order the mark
// gives, a surrogate pair one character, an unpaired surrogate U+FFFD (as
// Go's unicode/utf16 decodes it); the mark itself is not text and is
// dropped. A file of an odd number of bytes was cut short: the decoder
// fails with io.ErrUnexpectedEOF, so the reader reports it as corrupt
// (ErrCorrupt), as for a truncated gzip stream. A compressed file whose
// decompressed bytes start with a UTF-16 byte-order mark is decoded too
// (sniffReader, compression.go).

// utf16InSize is how many bytes of UTF-16 a utf16Reader reads at a time.
const utf16InSize = 64 << 10

// utf16Reader decodes the UTF-16 text of src, which starts with its
// byte-order mark, into UTF-8.
type utf16Reader struct {
	src       io.Reader
	bigEndian bool
	in        []byte // read from src, not yet decoded: in[r:w]
	r, w      int
	out       []byte // decoded, not yet returned: out[o:]
	o         int
	markDone  bool  // the byte-order mark is behind
	err       error // src's error, returned once in and out are drained
}

func newUTF16Reader(src io.Reader, bigEndian bool) *utf16Reader {
	return &utf16Reader{src: src, bigEndian: bigEndian, in: make([]byte, utf16InSize)}
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for u.o == len(u.out) {
		if u.err != nil && u.w-u.r < 2 {
			if u.err == io.EOF && u.w > u.r {
				return 0, io.ErrUnexpectedEOF // half a code unit
			}
			return 0, u.err
		}
		if u.err == nil {
			u.fill()
		}
		u.decode()
	}
	n := copy(p, u.out[u.o:])
	u.o += n
	return n, nil
}

// fill reads more of src after the undecoded bytes, which it moves to the
// front of in.
func (u *utf16Reader) fill() {
	u.w = copy(u.in, u.in[u.r:u.w])
	u.r = 0
	n, err := io.ReadAtLeast(u.src, u.in[u.w:], 1)
	u.w += n
	if err != nil {
		u.err = err
	}
}

// decode turns the whole code units of in[r:w] into UTF-8 in out, but for
// a high surrogate at the end, whose pair may still be unread.
func (u *utf16Reader) decode() {
	u.out, u.o = u.out[:0], 0
	atEOF := u.err != nil
	for u.w-u.r >= 2 {
		c := u.unit(u.r)
		if !u.markDone {
			u.markDone = true
			if c == 0xfeff {
				u.r += 2
				continue
			}
		}
		r, size := rune(c), 2
		if utf16.IsSurrogate(r) {
			switch {
			case u.w-u.r >= 4:
				if d := utf16.DecodeRune(r, rune(u.unit(u.r+2))); d != utf8.RuneError {
					r, size = d, 4
				} else {
					r = utf8.RuneError // unpaired: the next unit is read on its own
				}
			case !atEOF && r < 0xdc00:
				return // a high surrogate whose pair is not read yet
			default:
				r = utf8.RuneError
			}
		}
		u.out = utf8.AppendRune(u.out, r)
		u.r += size
	}
}

// unit is the 16-bit code unit at in[i:i+2].
func (u *utf16Reader) unit(i int) uint16 {
	if u.bigEndian {
		return binary.BigEndian.Uint16(u.in[i:])
	}
	return binary.LittleEndian.Uint16(u.in[i:])
}
