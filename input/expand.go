package input

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoInput is wrapped by the errors of [Expand] when an argument (or the
// whole argument list) resolves to no input file.
var ErrNoInput = errors.New("input: no input files")

// ErrNotRegular is wrapped by the errors of [Expand] when an argument names
// something that is neither a regular file nor a directory (a FIFO, a
// device, a socket): reading it would block or never end.
var ErrNotRegular = errors.New("input: not a regular file")

// Compression says how a file's bytes are encoded. It is decided by the file
// name's extension, never by sniffing content, so planning does not open
// files to read them.
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
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	default:
		return fmt.Sprintf("Compression(%d)", uint8(c))
	}
}

// CompressionOf returns the compression implied by path's extension
// (case-insensitive): .gz is Gzip, .zst and .zstd are Zstd, anything else
// is None.
func CompressionOf(path string) Compression {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz":
		return Gzip
	case ".zst", ".zstd":
		return Zstd
	default:
		return None
	}
}

// File is one input file as found by [Expand].
type File struct {
	// Path is the cleaned path, as given or joined onto the directory or
	// glob that produced it.
	Path string
	// Size is the size on disk in bytes (the compressed size for a
	// compressed file) at the time of Expand.
	Size int64
	// Compression is decided by Path's extension; see [CompressionOf].
	Compression Compression
	// Format is decided by Path's name by Expand (see [FormatOf]); set it
	// before Plan to read the file another way.
	Format Format
}

// Expand resolves --input arguments into the sorted, de-duplicated list of
// files to read. Each argument is one of:
//
//   - a regular file, taken as is, whatever its name;
//   - a directory, standing for its regular files (not recursive: sub-
//     directories are skipped) except hidden files and names starting with
//     "_" such as _SUCCESS, as Hadoop does, so a previous job's output
//     directory can be the next job's input;
//   - a glob pattern (containing any of `*?[\`, see [filepath.Match]); each
//     match is taken like an argument of its own, except that matches whose
//     base name starts with "." or "_" are skipped like directory entries.
//
// Symbolic links are followed. Every file is opened once (and closed) so
// that an unreadable file is reported now rather than by a map task later.
//
// An error names the argument at fault: a missing path (wrapping
// [fs.ErrNotExist]), a directory or glob that yields no file, or an empty
// argument list (wrapping [ErrNoInput]), a malformed glob (wrapping
// [filepath.ErrBadPattern]), something that is not a regular file
// (wrapping [ErrNotRegular]), or a file that cannot be opened (wrapping the
// fs error, e.g. [fs.ErrPermission]).
func Expand(args []string) ([]File, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no --input argument given", ErrNoInput)
	}
	var files []File
	for _, arg := range args {
		var err error
		if isGlob(arg) {
			files, err = expandGlob(files, arg)
		} else {
			files, err = expandPath(files, arg, arg, false)
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	files = slices.CompactFunc(files, func(a, b File) bool { return a.Path == b.Path })
	return files, nil
}

// isGlob reports whether arg contains a character that is special to
// filepath.Match. A file whose name really contains one can still be named
// through a pattern that escapes it (on Unix).
func isGlob(arg string) bool {
	return strings.ContainsAny(arg, `*?[\`)
}

// hidden reports whether a directory entry or glob match is skipped: Hadoop
// convention for hidden files and job bookkeeping such as _SUCCESS and
// _logs.
func hidden(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func expandGlob(files []File, pattern string) ([]File, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("input: glob %q: %w", pattern, err)
	}
	n := len(files)
	for _, m := range matches {
		if hidden(filepath.Base(m)) {
			continue
		}
		if files, err = expandPath(files, m, pattern, true); err != nil {
			return nil, err
		}
	}
	if len(files) == n {
		return nil, fmt.Errorf("%w: glob %q matches no file", ErrNoInput, pattern)
	}
	return files, nil
}

// expandPath appends the files that path stands for. arg is the --input
// argument it came from, for error messages. fromGlob relaxes the rule that
// a directory must not be empty: a glob may match several directories of
// which some are empty, and expandGlob checks the total.
func expandPath(files []File, path, arg string, fromGlob bool) ([]File, error) {
	path = filepath.Clean(path)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("input: argument %q: %w", arg, err)
	}
	if !fi.IsDir() {
		f, err := regularFile(path, fi)
		if err != nil {
			return nil, fmt.Errorf("input: argument %q: %w", arg, err)
		}
		return append(files, f), nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("input: argument %q: %w", arg, err)
	}
	n := len(files)
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		p := filepath.Join(path, e.Name())
		var fi fs.FileInfo
		switch {
		case e.Type().IsDir():
			continue
		case e.Type()&fs.ModeSymlink != 0:
			// Follow the link; a dangling link is an error rather than a
			// silently smaller input.
			if fi, err = os.Stat(p); err != nil {
				return nil, fmt.Errorf("input: argument %q: %w", arg, err)
			}
			if fi.IsDir() {
				continue
			}
		default:
			if fi, err = e.Info(); err != nil {
				return nil, fmt.Errorf("input: argument %q: %w", arg, err)
			}
		}
		f, err := regularFile(p, fi)
		if err != nil {
			return nil, fmt.Errorf("input: argument %q: %w", arg, err)
		}
		files = append(files, f)
	}
	if len(files) == n && !fromGlob {
		return nil, fmt.Errorf("%w: directory %q holds no input file (hidden and _ files are skipped)", ErrNoInput, arg)
	}
	return files, nil
}

// regularFile checks that path (described by fi) is a readable regular file
// and describes it.
func regularFile(path string, fi fs.FileInfo) (File, error) {
	if !fi.Mode().IsRegular() {
		// Opening a FIFO would block, so check the type before opening.
		return File{}, fmt.Errorf("%s is a %v: %w", path, fi.Mode().Type(), ErrNotRegular)
	}
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	if err := f.Close(); err != nil {
		return File{}, err
	}
	return File{Path: path, Size: fi.Size(), Compression: CompressionOf(path), Format: FormatOf(path)}, nil
}
