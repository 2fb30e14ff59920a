package input

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Tar archives.
//
// A folder is often shipped as one .tar.gz (or .tgz, .tar.zst, .tar.xz,
// .tar.bz2). Decompressed, it is a tar archive: each member's 512-byte
// header (its name, mode, owner and size in octal, NUL-padded), then its
// bytes padded with NULs to 512. Read as text, a word count counts the
// headers' fields as words and every member as one stream, without an
// error. Hadoop and Spark read it that way; Quern refuses it, naming the
// file and how to unpack it, as it refuses a zip. Reading the members as
// files would need a split per member that no offset in the archive can
// name once it is compressed; unpacking is one command.
//
// A POSIX (ustar) or GNU tar header has "ustar" at byte 257, then a NUL
// (POSIX) or a space (GNU's "ustar  "), and at bytes 148 to 155 the sum of
// the header's 512 bytes (the sum's own 8 counted as spaces) in octal
// digits, ended by a NUL or a space. Both must hold, so no text is taken
// for an archive by chance. The pre-POSIX V7 format has no magic, and is
// read as bytes like any other file without one.

// tarBlock is the size of a tar header, all of which isTar needs.
const tarBlock = 512

// errTarArchive is what sniffReader returns for decompressed bytes that
// are a tar archive; decodeFailed and decompressError turn it into the
// refusal that names the file (tarRefused).
var errTarArchive = errors.New("a tar archive")

// isTar reports whether head, a file's first bytes, starts a POSIX or GNU
// tar archive.
func isTar(head []byte) bool {
	if len(head) < tarBlock || string(head[257:262]) != "ustar" || head[262] != 0 && head[262] != ' ' {
		return false
	}
	field := strings.TrimRight(string(head[148:156]), " \x00")
	want, err := strconv.ParseUint(strings.TrimLeft(field, " "), 8, 32)
	if err != nil {
		return false
	}
	// Unsigned, as POSIX says; some old tars summed signed bytes.
	var unsigned, signed int64
	for i, b := range head[:tarBlock] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		unsigned += int64(b)
		signed += int64(int8(b))
	}
	return int64(want) == unsigned || int64(want) == signed
}

// tarRefused is the error for the tar archive at path, stored with
// compression c.
func tarRefused(path string, c Compression) error {
	how := ""
	if c != None {
		how = fmt.Sprintf(" (compressed with %v)", c)
	}
	return fmt.Errorf("%w: %s is a tar archive%s; Quern reads files, not archives: unpack it (tar -xf %s) and give the folder as the input",
		ErrCompression, path, how, path)
}
