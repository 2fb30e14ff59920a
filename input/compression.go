package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/zstd"
	"github.com/quern-dev/quern/internal/inflate"
	"github.com/quern-dev/quern/internal/parbzip2"
	"github.com/ulikunitz/xz"
)

// ErrCompression is wrapped by the errors of [Expand] for a file that
// Quern cannot read: compressed in a way it does not decompress (lz4, zip,
// 7z, compress's .Z ...), named as compressed (a.gz) while holding
// neither that compression nor text, or a tar archive, compressed or not.
var ErrCompression = errors.New("input: unreadable compression")

// Compression says how a file's bytes are encoded. [Expand] decides it by
// the file's first bytes (its magic number) and, for content without one,
// by its extension; see [Sniff].
type Compression uint8

const (
	// None is plain bytes; such a file can be split at any byte offset.
	None Compression = iota
	// Gzip is a gzip stream (RFC 1952), possibly several concatenated
	// members, as written by gzip and pigz. Extension .gz.
	Gzip
	// Zstd is a Zstandard stream of one or more frames. Extensions .zst and
	// .zstd.
	Zstd
	// Bzip2 is a bzip2 stream, possibly several concatenated (pbzip2), read
	// by github.com/dsnet/compress/bzip2, several blocks at a time when
	// spooled (internal/parbzip2). Extensions .bz2 and .bz.
	Bzip2
	// Xz is an xz stream of one or more blocks or streams. Extension .xz.
	Xz
	// UTF16LE and UTF16BE are text in UTF-16, little- and big-endian, as
	// their byte-order mark (FF FE, FE FF) says, decoded to UTF-8 as it is
	// read; see utf16.go. They are not compressions, but are read like
	// one: whole, from the start. They have no extension.
	UTF16LE
	UTF16BE
)

// compressionNames are the names String returns, indexed by Compression.
var compressionNames = [...]string{None: "none", Gzip: "gzip", Zstd: "zstd", Bzip2: "bzip2", Xz: "xz",
	UTF16LE: "utf-16le", UTF16BE: "utf-16be"}

// String returns "none", "gzip", "zstd", "bzip2", "xz", "utf-16le" or
// "utf-16be".
func (c Compression) String() string {
	if int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// CompressionOf returns the compression implied by path's extension
// (case-insensitive): .gz is Gzip, .zst and .zstd are Zstd, .bz2 and .bz
// are Bzip2, .xz is Xz, anything else is None. Expand prefers the file's
// content; see [Sniff].
func CompressionOf(path string) Compression {
	c, _ := compressionExt(path)
	return c
}

// compressionExt returns the compression path's extension names: a
// Compression Quern reads, or the name of one it does not (unknown is
// then non-empty and c is None).
func compressionExt(path string) (c Compression, unknown string) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz":
		return Gzip, ""
	case ".zst", ".zstd":
		return Zstd, ""
	case ".bz2", ".bz":
		return Bzip2, ""
	case ".xz":
		return Xz, ""
	case ".lz4":
		return None, "lz4"
	case ".z":
		return None, "compress (.Z)"
	case ".zip":
		return None, "zip"
	case ".7z":
		return None, "7z"
	case ".rar":
		return None, "rar"
	case ".lz":
		return None, "lzip"
	case ".lzma":
		return None, "lzma"
	case ".lzo":
		return None, "lzop"
	case ".br":
		return None, "brotli"
	case ".sz", ".snappy":
		return None, "snappy"
	}
	return None, ""
}

// magic is a compression's first bytes.
type magic struct {
	prefix []string // any of these
	c      Compression
	name   string // set for a compression Quern cannot read
}

// magics are the magic numbers Sniff knows. Each is long enough that text
// does not start with it by chance: gzip's two bytes are followed by its
// only method, deflate (8); "BZh" and a block size by the first block's or
// the end-of-stream marker.
var magics = []magic{
	{prefix: []string{"\x1f\x8b\x08"}, c: Gzip},
	{prefix: []string{"\x28\xb5\x2f\xfd"}, c: Zstd},
	{prefix: []string{"\xfd7zXZ\x00"}, c: Xz},
	{prefix: []string{"\x04\x22\x4d\x18", "\x02\x21\x4c\x18"}, name: "lz4"},
	{prefix: []string{"\x1f\x9d"}, name: "compress (.Z)"},
	{prefix: []string{"PK\x03\x04", "PK\x05\x06", "PK\x07\x08"}, name: "zip"},
	{prefix: []string{"7z\xbc\xaf\x27\x1c"}, name: "7z"},
	{prefix: []string{"Rar!\x1a\x07"}, name: "rar"},
	{prefix: []string{"LZIP"}, name: "lzip"},
	{prefix: []string{"\x89LZO\x00\r\n\x1a\n"}, name: "lzop"},
	{prefix: []string{"\xff\x06\x00\x00sNaPpY"}, name: "snappy"},
	// Byte-order marks: UTF-32's before UTF-16's, which FF FE 00 00
	// would match too.
	{prefix: []string{"\xff\xfe\x00\x00", "\x00\x00\xfe\xff"}, name: utf32Name},
	{prefix: []string{"\xff\xfe"}, c: UTF16LE},
	{prefix: []string{"\xfe\xff"}, c: UTF16BE},
}

// utf32Name names UTF-32 text, which Quern refuses: no tool users meet
// writes it, and UTF-8 conversion is one iconv away.
const utf32Name = "UTF-32 text"

// headSize is how many first bytes Expand reads of each file: enough for
// every magic number and for a look at whether the content is text.
const headSize = 512

// Sniff returns the compression that a file's first bytes announce: Gzip,
// Zstd, Bzip2 or Xz, or UTF16LE or UTF16BE for a UTF-16 byte-order mark;
// None for content without a known magic number. For a compression Quern
// cannot read (lz4, compress's .Z, zip, 7z, rar, lzip, lzop, framed
// snappy, and UTF-32 text) it returns None and that compression's name.
func Sniff(head []byte) (c Compression, unreadable string) {
	for _, m := range magics {
		for _, p := range m.prefix {
			if bytes.HasPrefix(head, []byte(p)) {
				return m.c, m.name
			}
		}
	}
	if isBzip2(head) {
		return Bzip2, ""
	}
	if len(head) >= 4 && head[0]&0xf0 == 0x50 && string(head[1:4]) == "\x2a\x4d\x18" {
		// A zstd skippable frame (0x184D2A50 to 0x184D2A5F, little
		// endian), which the decoder passes over.
		return Zstd, ""
	}
	return None, ""
}

// isBzip2 reports whether head starts a bzip2 stream: "BZh", the block
// size '1' to '9', then the first block's magic (the digits of pi) or the
// end of stream's (those of the square root of pi) for an empty stream.
func isBzip2(head []byte) bool {
	if len(head) < 10 || string(head[:3]) != "BZh" || head[3] < '1' || head[3] > '9' {
		return false
	}
	next := string(head[4:10])
	return next == "\x31\x41\x59\x26\x53\x59" || next == "\x17\x72\x45\x38\x50\x90"
}

// decideCompression decides how the file at path, which starts with head,
// is read. The content wins over the name: a gzip stream is decompressed
// whatever the file is called, and a file named a.gz that holds text is
// read as text (the extension was wrong, as when a tool writes plain text
// under a name it was given). A file with a known but unreadable magic
// number is an error, as is a file whose name says compressed (by one of
// the extensions compressionExt knows) and whose content is neither that
// nor text: reading it as text would count garbage.
func decideCompression(path string, head []byte) (Compression, error) {
	c, unreadable := Sniff(head)
	if unreadable == utf32Name {
		return None, fmt.Errorf("%w: %s is UTF-32 text, which Quern cannot read; convert it to UTF-8 first (iconv -f UTF-32 -t UTF-8)",
			ErrCompression, path)
	}
	if unreadable != "" {
		return None, fmt.Errorf("%w: %s is %s-compressed, which Quern cannot read; decompress it first",
			ErrCompression, path, unreadable)
	}
	if c != None {
		return c, nil
	}
	if isTar(head) {
		return None, tarRefused(path, None)
	}
	named, unknown := compressionExt(path)
	if named == None && unknown == "" || looksLikeText(head) {
		return None, nil
	}
	if unknown != "" {
		return None, fmt.Errorf("%w: %s is named as %s-compressed, which Quern cannot read; decompress it first",
			ErrCompression, path, unknown)
	}
	return None, fmt.Errorf("%w: %s is named as %v-compressed but holds neither %v data nor text (corrupt, or misnamed)",
		ErrCompression, path, named, named)
}

// looksLikeText reports whether head could start a text file: no NUL byte
// and valid UTF-8, but for a character cut at the end of head.
func looksLikeText(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n == 1 {
			return len(head) == headSize && len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:])
		}
		i += n
	}
	return true
}

// gzipReaders keeps gzip readers (half a megabyte of buffers each) for the
// next file: a task over a pack of many small .gz files would otherwise
// allocate and clear them once per file. Word count over 4,097 .gz files
// of 10 KiB took 1.42-1.68 s (2.5-2.9 CPU-s) without the pool and
// 0.95-1.15 s (1.7-2.0) with it, alternated.
var gzipReaders sync.Pool

// decompress returns a reader of the decompressed bytes of src and a
// function that releases it (not src). A bad header is reported at once.
// cores is how many goroutines a decoder may keep busy: Spool's, on which
// a job over one big file waits, may use them all; a map task's, whose
// job keeps every core busy with tasks, one.
func decompress(src io.Reader, c Compression, cores int) (io.Reader, func() error, error) {
	switch c {
	case None:
		return src, func() error { return nil }, nil
	case Gzip:
		// internal/inflate rather than klauspost's gzip: it decodes text of
		// words in 0.5-0.6 of the time (its doc says how), and decoding is
		// most of the time a word count over .gz files takes. It reads every
		// member, as gzip -d does, and refuses trailing bytes other than
		// zeros.
		gz, ok := gzipReaders.Get().(*inflate.Reader)
		var err error
		if ok {
			err = gz.Reset(src)
		} else {
			gz, err = inflate.NewReader(src)
		}
		if err != nil {
			if gz != nil {
				gzipReaders.Put(gz)
			}
			return nil, nil, err
		}
		// Put back once only: a reader put back twice would be handed
		// to two files at once.
		var once sync.Once
		return gz, func() error { once.Do(func() { gzipReaders.Put(gz) }); return nil }, nil
	case Zstd:
		// Concurrency 1 decodes synchronously in the reading goroutine:
		// map tasks already use every core, and the decoder starts no
		// goroutine that could outlive it.
		zd, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zd, func() error { zd.Close(); return nil }, nil
	case Bzip2:
		// dsnet's decoder rather than the standard library's: 35 MB/s
		// of text against 30 (BenchmarkDecode in internal/parbzip2).
		// Still far slower than a map task maps, so Spool decodes
		// several blocks at a time (parbzip2); a map task decodes one
		// at a time, since its job has every core busy already, and
		// each further block decoding takes 10-20 MB.
		if cores > 1 {
			zr := parbzip2.NewReader(src, cores)
			return zr, zr.Close, nil
		}
		zr, err := bzip2.NewReader(src, nil)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() error { return nil }, nil
	case Xz:
		xr, err := xz.NewReader(src)
		if err != nil {
			return nil, nil, err
		}
		return xr, func() error { return nil }, nil
	case UTF16LE, UTF16BE:
		return newUTF16Reader(src, c == UTF16BE), func() error { return nil }, nil
	default:
		return nil, nil, fmt.Errorf("unknown compression %v", c)
	}
}

// decompressor returns a reader of the text of src compressed with c
// (decoded on up to cores goroutines, see decompress),
// decoded from UTF-16 if the decompressed bytes start with its byte-order
// mark, and refused if they are a tar archive (sniffReader), and a
// function that releases the decompressor.
func decompressor(src io.Reader, c Compression, cores int) (io.Reader, func() error, error) {
	r, release, err := decompress(src, c, cores)
	if err != nil || c == None || c == UTF16LE || c == UTF16BE {
		return r, release, err
	}
	return &sniffReader{r: r}, release, nil
}

// sniffReader is the text a decompressor yields, once its first bytes are
// looked at: a Windows tool's "Unicode" file, gzipped, is still UTF-16
// once decompressed, and is decoded; a .tar.gz is a tar archive once
// decompressed, and read as text it would count its headers and padding
// as words, so it is refused (errTarArchive). It decides at its first
// Read, not when it is made, so that a decompressor's first error comes
// from a Read, where the reader reports how far it got, as without it.
type sniffReader struct {
	r    io.Reader // the decompressed bytes; after the first Read, the text
	buf  [tarBlock]byte
	head []byte // bytes read to decide, not yet returned
	err  error  // the decompressor's error after head, if it came then
	done bool
}

func (b *sniffReader) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		n, err := readUpTo(b.r, b.buf[:])
		head := b.buf[:n]
		rest := b.r
		if err != nil {
			rest = failedReader{err}
		}
		switch {
		case n >= 2 && head[0] == 0xff && head[1] == 0xfe:
			b.r = newUTF16Reader(io.MultiReader(bytes.NewReader(head), rest), false)
		case n >= 2 && head[0] == 0xfe && head[1] == 0xff:
			b.r = newUTF16Reader(io.MultiReader(bytes.NewReader(head), rest), true)
		case isTar(head):
			return 0, errTarArchive
		case n == 0:
			return 0, err // the decompressor's own: EOF, or where it failed
		default:
			b.head, b.err = head, err
		}
	}
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.r.Read(p)
}

// failedReader is a reader that has failed with err, as every Read says.
type failedReader struct{ err error }

func (f failedReader) Read([]byte) (int, error) { return 0, f.err }

// readUpTo reads into buf until it is full or r fails, and returns how
// many bytes it read and r's error, if any (io.EOF included). Unlike
// io.ReadFull it keeps r's own error: ReadFull turns the end of a short
// stream into io.ErrUnexpectedEOF, which is also what a decompressor says
// of a truncated file, so a short file would be reported as a corrupt one.
func readUpTo(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}
