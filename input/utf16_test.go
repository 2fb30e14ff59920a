package input

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"

	"pgregory.net/rapid"
)

// encodeUTF16 is s in UTF-16 with its byte-order mark, in either byte
// order, by the standard library's encoder.
func encodeUTF16(units []uint16, bigEndian bool) []byte {
	var order binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	b := order.AppendUint16(nil, 0xfeff)
	for _, u := range units {
		b = order.AppendUint16(b, u)
	}
	return b
}

// TestUTF16ReaderMatchesStdlib decodes random UTF-16 (any code units,
// unpaired surrogates among them) read in pieces of every size, and checks
// the text against unicode/utf16.Decode's, the reference: a surrogate pair
// cut between two reads is one character.
func TestUTF16ReaderMatchesStdlib(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var units []uint16
		if rapid.Bool().Draw(t, "text") {
			units = utf16.Encode([]rune(rapid.String().Draw(t, "s")))
		} else {
			units = rapid.SliceOf(rapid.Uint16()).Draw(t, "units")
		}
		big := rapid.Bool().Draw(t, "bigEndian")
		want := string(utf16.Decode(units))
		var src io.Reader = bytes.NewReader(encodeUTF16(units, big))
		if rapid.Bool().Draw(t, "oneByte") {
			src = iotest.OneByteReader(src)
		}
		r := newUTF16Reader(src, big)
		r.in = make([]byte, rapid.IntRange(4, 64).Draw(t, "inSize"))
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("decoded %q, want %q", got, want)
		}
	})
}

// TestUTF16ReaderCutShort: an odd number of bytes is a truncated file,
// reported once the whole units before the cut are returned.
func TestUTF16ReaderCutShort(t *testing.T) {
	b := encodeUTF16(utf16.Encode([]rune("héllo")), false)
	got, err := io.ReadAll(newUTF16Reader(bytes.NewReader(b[:len(b)-1]), false))
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "héll" {
		t.Fatalf("got %q, %v; want \"héll\" and io.ErrUnexpectedEOF", got, err)
	}
}

// TestSniffTextEncodings: the UTF-16 byte-order marks select the decoding,
// UTF-32's is refused by name, and without a mark nothing changes.
func TestSniffTextEncodings(t *testing.T) {
	for head, want := range map[string]Compression{
		"\xff\xfeh\x00": UTF16LE,
		"\xfe\xff\x00h": UTF16BE,
		"\xef\xbb\xbfh": None, // UTF-8's mark: UTF-8 already
		"h\x00i\x00":    None,
	} {
		if c, unreadable := Sniff([]byte(head)); c != want || unreadable != "" {
			t.Errorf("Sniff(%q) = %v, %q; want %v", head, c, unreadable, want)
		}
	}
	for _, head := range []string{"\xff\xfe\x00\x00h\x00\x00\x00", "\x00\x00\xfe\xff\x00\x00\x00h"} {
		if c, unreadable := Sniff([]byte(head)); c != None || unreadable != utf32Name {
			t.Errorf("Sniff(%q) = %v, %q; want UTF-32 refused", head, c, unreadable)
		}
	}
}

// TestSniffReader: decompressed bytes pass through as they are, whatever
// their length, unless they start with a UTF-16 byte-order mark; a
// decompressor's error reaches the reader after the bytes before it, also
// when it comes before the bytes the reader looks at (TestTarRefused has
// tar archives).
func TestSniffReader(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "a": "a", "ab": "ab", "abc\n": "abc\n", "\xef\xbb\xbfa": "\xef\xbb\xbfa",
		"\xff\xfe": "", "\xff\xfeh\x00i\x00": "hi", "\xfe\xff\x00h\x00i": "hi",
	} {
		got, err := io.ReadAll(iotest.OneByteReader(&sniffReader{r: bytes.NewReader([]byte(in))}))
		if err != nil || string(got) != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	long := strings.Repeat("the quick brown fox\n", 100)
	for _, in := range []string{"", "a", "abc", long} {
		bad := io.MultiReader(strings.NewReader(in), iotest.ErrReader(io.ErrUnexpectedEOF))
		got, err := io.ReadAll(&sniffReader{r: bad})
		if err != io.ErrUnexpectedEOF || string(got) != in {
			t.Errorf("%q then an error: got %q, %v; want the bytes and the error", in, got, err)
		}
	}
	// A decompressor that yields a byte at a time.
	got, err := io.ReadAll(&sniffReader{r: iotest.OneByteReader(strings.NewReader(long))})
	if err != nil || string(got) != long {
		t.Errorf("a byte at a time: got %d bytes, %v; want %d", len(got), err, len(long))
	}
	// UTF-16 cut short by an error: the text before it, then the error.
	bad := io.MultiReader(strings.NewReader("\xff\xfeh\x00i\x00"), iotest.ErrReader(io.ErrUnexpectedEOF))
	got, err = io.ReadAll(&sniffReader{r: bad})
	if err != io.ErrUnexpectedEOF || string(got) != "hi" {
		t.Errorf("UTF-16 then an error: got %q, %v; want \"hi\" and the error", got, err)
	}
}
