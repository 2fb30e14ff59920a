// Package manifest writes and checks the list of committed files that a
// finished Quern output keeps in its _SUCCESS marker, in a directory or
// under an object-store prefix alike.
//
// # Format
//
// UTF-8 text, one line per committed file, in name order: the file's name
// relative to the output (a base name for a job's parts), one space, and
// its size in bytes in decimal, then "\n":
//
//	part-00000 1234
//	part-00001 998
//
// A job with no file to commit writes an empty _SUCCESS, which is also what
// Hadoop, Spark and Quern before the manifest write. Other tools put other
// things there (Hadoop's S3A committers a JSON summary): content that is not
// a manifest is not an error, only nothing to check against.
//
// A reader that wants exactly the committed output checks the manifest
// first: a file it lists that is missing, or of another size, means the
// output was damaged after the commit (a copy of the folder cut short, a
// part removed by hand, an object overwritten). A file the manifest does
// not list was added afterwards and is not its business.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// ErrDamaged is wrapped by Check's error for an output whose files are not
// those its manifest lists.
var ErrDamaged = errors.New("a file its _SUCCESS lists is missing or has another size")

// ErrNotManifest is returned by Parse for content that is not a manifest.
var ErrNotManifest = errors.New("manifest: not a Quern manifest")

// Entry is one committed file.
type Entry struct {
	Name string // relative to the output, "/"-separated
	Size int64
}

// Encode returns the manifest of the entries, sorted by name.
func Encode(entries []Entry) []byte {
	entries = slices.SortedFunc(slices.Values(entries), func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %d\n", e.Name, e.Size)
	}
	return b.Bytes()
}

// Parse reads a manifest. Content with a line that is not a name and a
// size, or a name that leaves the output ("../x", "/x"), is not a
// manifest: the error is ErrNotManifest.
func Parse(data []byte) ([]Entry, error) {
	var entries []Entry
	for line := range strings.Lines(string(data)) {
		name, size, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil || n < 0 || !fs.ValidPath(name) || name == "." || path.Clean(name) != name {
			return nil, ErrNotManifest
		}
		entries = append(entries, Entry{Name: name, Size: n})
	}
	return entries, nil
}

// Check checks each entry against size, which returns the size of a file
// of the output by its entry name, and an error wrapping fs.ErrNotExist
// for a missing one. The error of a damaged output wraps ErrDamaged and
// names where (the output) and the file.
func Check(where string, entries []Entry, size func(name string) (int64, error)) error {
	for _, e := range entries {
		n, err := size(e.Name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s: %w: %s is missing", where, ErrDamaged, e.Name)
		case err != nil:
			return err
		case n != e.Size:
			return fmt.Errorf("%s: %w: %s has %d bytes, its _SUCCESS says %d", where, ErrDamaged, e.Name, n, e.Size)
		}
	}
	return nil
}
