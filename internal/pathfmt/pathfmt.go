// Package pathfmt quotes file paths, globs and input arguments for
// messages, the way a user of this platform types them, and names each
// file once in an error.
//
// %q (strconv.Quote) escapes every backslash, which is right on Unix, where
// a backslash in a name is an odd character worth showing, and wrong on
// Windows, where it is the separator: C:\data\x.txt would be printed as
// "C:\\data\\x.txt", a path the user never wrote and cannot paste back.
package pathfmt

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// Quote returns p in double quotes, as %q would, except that on Windows
// (where filepath.Separator is a backslash) backslashes are left single.
func Quote(p string) string { return quote(p, filepath.Separator) }

// quote is Quote for a platform whose separator is sep.
func quote(p string, sep rune) string {
	if sep != '\\' || !strings.ContainsRune(p, '\\') {
		return strconv.Quote(p)
	}
	// Quote each run between backslashes and join them with single ones:
	// every other character is escaped exactly as %q escapes it.
	parts := strings.Split(p, `\`)
	var b strings.Builder
	b.WriteByte('"')
	for i, part := range parts {
		if i > 0 {
			b.WriteByte('\\')
		}
		q := strconv.Quote(part)
		b.WriteString(q[1 : len(q)-1])
	}
	b.WriteByte('"')
	return b.String()
}

// Named reports whether err already names path: it is, or wraps, the
// system's error about that file ("write PATH: no space left on device"),
// so that a wrapper need not name it again.
func Named(err error, path string) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Path == path
}

// Wrap returns err after "op path: ", or after "op: " alone when err names
// path already (Named): "close output P: sync P: no space left on device"
// says P once, as "close output: sync P: no space left on device".
func Wrap(op, path string, err error) error {
	if Named(err, path) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}
