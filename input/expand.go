package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/internal/manifest"
	"github.com/quern-dev/quern/internal/pathfmt"
	"github.com/quern-dev/quern/objstore"
)

// ErrNoInput is wrapped by the errors of [Expand] when an argument (or the
// whole argument list) resolves to no input file.
var ErrNoInput = errors.New("input: no input files")

// ErrNotRegular is wrapped by the errors of [Expand] when an argument names
// something that is neither a regular file nor a directory (a FIFO, a
// device, a socket): reading it would block or never end; or a file whose
// size does not say how much it holds (a file of /proc or /sys, of size 0
// with content), which would be read as empty.
var ErrNotRegular = errors.New("input: not a regular file")

// ErrUnfinishedOutput is wrapped by the errors of [Expand] when a
// directory it reads is the output of a job that has not finished: it
// holds part files and the bookkeeping of a job writing them (_temporary,
// the _previous that --overwrite keeps, or a _job.json), and no _SUCCESS.
// Hadoop's and Spark's jobs leave the same. Its part files are
// some of the answer or none of it (a job still running, stopped while it
// committed, or failed), so reading them would be a silent wrong answer;
// a user who wants them anyway names them (out/part-*).
var ErrUnfinishedOutput = errors.New("input: unfinished job output")

// ErrDamagedOutput is wrapped by the errors of [Expand] when a directory
// or object-store prefix it reads is a finished job's output whose part
// files are not those its _SUCCESS manifest lists (internal/manifest):
// one was removed or cut short after the job finished, by a copy of the
// folder that was interrupted or by hand. Reading what is left would be a
// silent wrong answer.
var ErrDamagedOutput = manifest.ErrDamaged

// ErrBraces is wrapped by the errors of [Expand] and [SplitInputList] for
// an argument whose braces do not pair up, or whose alternatives would
// make more than maxBraceExpansions paths.
var ErrBraces = errors.New("input: malformed {a,b} alternatives")

// maxBraceExpansions bounds the paths one argument's braces may stand for,
// so that a typo such as {a,b}{c,d}... repeated cannot exhaust memory.
const maxBraceExpansions = 10000

// File is one input file as found by [Expand].
type File struct {
	// Path is the cleaned path, as given or joined onto the directory or
	// glob that produced it.
	Path string
	// Size is the size on disk in bytes (the compressed size for a
	// compressed file) at the time of Expand.
	Size int64
	// Compression is decided by the file's first bytes when it has a
	// known magic number, else by Path's extension when the content looks
	// like text; see [Expand].
	Compression Compression
	// Format is decided by Path's name by Expand (see [FormatOf]); set it
	// before Plan to read the file another way.
	Format Format
	// ModTime and ID are what Expand found, with Size, so that a reader
	// can tell the file changed since the job was planned (see
	// [ChangedError]). A zero ModTime means nothing was recorded (a File
	// built by hand), and nothing is checked.
	ModTime time.Time
	// ID is the file's device and inode where the platform has them.
	ID FileID
	// EdgeSum is a CRC-64 (ECMA) of the first 512 bytes of a plain file
	// that Expand opened and of its last 512 bytes after those (edgeSum),
	// so that a reader that finds the file grown can tell a log appended
	// to from a file rewritten (checkLines). 0 means none was taken.
	EdgeSum uint64 `json:",omitempty"`
	// Version is an object's ETag (S3) or generation (GCS), for an input
	// in an object store; see object.go.
	Version string `json:",omitempty"`
	// Guessed says that Expand did not open the file (see
	// [ExpandOptions]): Compression is what Path's extension says, and
	// the reader decides it by the file's first bytes when it opens the
	// file, refusing with [ErrCompression] what Expand would have refused.
	Guessed bool `json:",omitempty"`
}

// FileID identifies a file on its machine however it is named: the device
// and inode numbers on Unix, the volume serial number and file index on
// Windows (fileid_windows.go). It is zero where it could not be had, and
// then paths are compared after resolving symbolic links.
type FileID struct {
	Device, Inode uint64
}

// SplitInputList cuts one --input value into paths at the commas that are
// outside braces, as Hadoop reads its comma-separated input list:
// "a,b" is two paths, "logs/{a,b}" is one (whose braces [Expand] expands).
// A comma preceded by a backslash is part of a name (on Unix; on Windows a
// backslash only separates, see escapes). An empty path (from "a,,b" or a
// trailing comma) is dropped. A value that names an existing file or
// folder is one path, commas and all ("grimm, vol 1.txt"): a user who
// quotes a file's name means that file.
func SplitInputList(s string) ([]string, error) {
	if existsLiterally(s) {
		return []string{s}, nil
	}
	return splitInputList(s, filepath.Separator)
}

// existsLiterally reports whether arg names an existing local file or
// folder as it is written, so that its commas, braces and glob characters
// are part of its name, not syntax: Hadoop would need them escaped, but a
// file called "[draft] notes, v2.txt" given by its name should be read, not
// refused as a glob that matches nothing.
func existsLiterally(arg string) bool {
	if objstore.IsURL(arg) {
		return false
	}
	_, err := os.Lstat(arg)
	return err == nil
}

// escapes reports whether a backslash escapes the next byte in an input
// argument, on a system whose path separator is sep: on Unix, as in
// filepath.Match; not on Windows, where it is the separator, so that
// C:\logs\{a,b} is two paths.
func escapes(sep rune) bool { return sep != '\\' }

// splitInputList is SplitInputList for a system whose separator is sep.
func splitInputList(s string, sep rune) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if escapes(sep) {
				i++ // the next byte is literal
			}
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return nil, fmt.Errorf("%w: %s has a '}' without its '{'", ErrBraces, pathfmt.Quote(s))
			}
			depth--
		case ',':
			if depth == 0 {
				if i > start {
					out = append(out, s[start:i])
				}
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%w: %s has a '{' without its '}'", ErrBraces, pathfmt.Quote(s))
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out, nil
}

// Expand resolves --input arguments into the sorted, de-duplicated list of
// files to read. An argument that names an existing file or folder as it
// is written is taken as that path, whatever braces or glob characters its
// name holds. Any other argument is first cut into alternatives at its
// braces, as Hadoop and shells do: "logs/{2024,2025}-*.gz" stands for
// "logs/2024-*.gz" and "logs/2025-*.gz"; braces nest ("a{b,c{d,e}}" is ab,
// acd and ace). Each alternative is one of:
//
//   - a regular file, taken as is, whatever its name;
//   - a directory, standing for every regular file below it, however deep,
//     except hidden files and names starting with "_" such as _SUCCESS (and
//     everything inside directories so named), as Hadoop does, so that a
//     previous job's output directory can be the next job's input;
//   - a glob pattern (containing any of `*?[\`, see [filepath.Match]),
//     matched one path element at a time, where an element "**" matches any
//     number of directories (zero included): "logs/**/*.gz" is every .gz
//     file below logs. Each match is taken like an argument of its own.
//     Wildcards do not match names starting with "." or "_" unless the
//     pattern element itself starts with that character.
//
// A literal alternative that does not exist is an error, as a literal
// argument is; a glob alternative may match nothing as long as the
// argument as a whole yields a file.
//
// Symbolic links are followed, to files and to directories; a link that
// leads back into a directory being read is not followed again. Every file
// is listed once however many ways it is named (relative and absolute
// paths, "a/../a", symbolic and hard links: the same device and inode),
// under the first of its paths in sorted order.
//
// Every file is opened once (and closed) so that an unreadable file is
// reported now rather than by a map task later, and its first bytes are
// read to recognise its compression: see [Sniff]. A file compressed in a
// way Quern cannot read, or named as compressed but holding neither that
// compression nor text, is an error wrapping [ErrCompression].
//
// An error names the argument at fault: a missing path (wrapping
// [fs.ErrNotExist]), a directory or glob that yields no file, or an empty
// argument list (wrapping [ErrNoInput]), a malformed glob (wrapping
// [filepath.ErrBadPattern]) or braces (wrapping [ErrBraces]), something
// that is not a regular file (wrapping [ErrNotRegular]), or a file or a
// directory that cannot be read, a glob's included (wrapping the fs
// error, e.g. [fs.ErrPermission]).
func Expand(args []string) ([]File, error) {
	return ExpandWith(args, ExpandOptions{})
}

// ExpandOptions change what [ExpandWith] does for each file.
type ExpandOptions struct {
	// GuessUpTo leaves unopened the files of at most this many bytes
	// that are read by lines (Text, JSONL, CSV, TSV by their names) and
	// that the process may read by their permission bits: their
	// compression is guessed from the name (File.Guessed), and the task
	// that reads such a file decides it by the content. A planner sets it
	// to a size under which the guess cannot change the plan (a file
	// that is one split whether compressed or not), which saves opening,
	// reading and closing each of many small files twice. 0 opens every
	// file.
	GuessUpTo int64
	// Warn, when set, is told of inputs that are read as asked but are
	// likely a mistake: a folder read as part of a larger folder that is
	// itself a finished job's output (it holds _SUCCESS). Keeping a job's
	// output inside its input folder and running again with another
	// --output reads the earlier answer as more input, and every count
	// comes out too large; reading a folder of outputs is also how a
	// user combines many earlier jobs, so it is said, not refused.
	Warn func(message string)
	// ManyFiles, when set, is called once, as the listing finds its
	// [ManyFilesAt]-th file or reads a directory of as many entries, and
	// before it goes on. A caller that keeps every file found can prepare
	// its memory for a large listing there (the driver asks for huge
	// pages, package internal/hugepage), a cost that a listing of a few
	// files is spared.
	ManyFiles func()
}

// ManyFilesAt is the number of files found at which ExpandOptions.ManyFiles
// is called. A plan keeps about 1.3 KB per file, so 4,096 files have
// touched some 5 MB, a few hundred pages: a listing that stops below it
// is not worth preparing for.
const ManyFilesAt = 4096

// ExpandWith is [Expand] with options.
func ExpandWith(args []string, opt ExpandOptions) ([]File, error) {
	return ExpandContext(context.Background(), args, opt)
}

// ExpandContext is [ExpandWith] that stops, with an error wrapping ctx's,
// once ctx is done: listing a folder of millions of files on a slow file
// system (NFS, a FUSE mount, an object store) can take minutes, which a
// Ctrl-C should not have to wait out.
func ExpandContext(ctx context.Context, args []string, opt ExpandOptions) ([]File, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no --input argument given", ErrNoInput)
	}
	e := &expander{ctx: ctx, checks: checker{ctx: ctx, guessUpTo: opt.GuessUpTo}, warn: opt.Warn, manyFiles: opt.ManyFiles}
	return e.expand(args)
}

// expand lists and checks the files of args, for ExpandContext.
func (e *expander) expand(args []string) ([]File, error) {
	var err error
	for _, arg := range args {
		if err = e.arg(arg); err != nil {
			break
		}
		e.warnNested(arg)
	}
	// A file the checks refused was found before the walk failed, so its
	// error comes first, as when the walk checked each file in turn.
	if cerr := e.checks.wait(); cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	all := e.checks.appendFound(slices.Grow(e.found, e.checks.n))
	slices.SortFunc(all, func(a, b found) int { return strings.Compare(a.Path, b.Path) })
	seen := make(map[fileKey]bool, len(all))
	files := make([]File, 0, len(all))
	for _, f := range all {
		if !seen[f.key] {
			seen[f.key] = true
			files = append(files, f.File)
		}
	}
	return files, nil
}

// found is a file with the key that tells whether two paths name it.
type found struct {
	File
	key fileKey
}

// fileKey identifies a file or directory: its FileID where it could be
// had, else its absolute path with symbolic links resolved.
type fileKey struct {
	id   FileID
	path string
}

// keyOf returns the key of path, described by fi (from os.Stat).
func keyOf(path string, fi fs.FileInfo) fileKey {
	id, ok := statID(path, fi)
	return keyFrom(path, id, ok)
}

// keyFrom returns the key of path, whose FileID is id if ok.
func keyFrom(path string, id FileID, ok bool) fileKey {
	if ok {
		return fileKey{id: id}
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if p, err := filepath.Abs(path); err == nil {
		path = p
	}
	return fileKey{path: path}
}

// expander collects the files of Expand's arguments.
type expander struct {
	ctx   context.Context // ExpandContext's
	found []found
	// checks stats and sniffs the files the walk finds.
	checks checker
	// matched counts the files the current argument stands for, found
	// now or before.
	matched int
	warn    func(string) // ExpandOptions.Warn
	// nested are the finished jobs' outputs the current argument's walk
	// found below it, and nestedFiles the files they hold.
	nested      []string
	nestedFiles int
	// inOutput is set while the walk is below a finished job's output.
	inOutput bool
	// files counts the files found, for manyFiles (ExpandOptions.ManyFiles).
	files     int
	manyFiles func()
}

// add hands a file the walk found to the checks.
func (e *expander) add(c fileCheck) {
	e.counted()
	e.checks.add(c)
}

// readDir is os.ReadDir, which reads the entries of the directory at
// path and sorts them by name, read a block of entries at a time so that
// a directory of more than ManyFilesAt entries calls manyFiles before
// most of its entries are in memory: a folder holds its files in one
// directory more often than not, and its listing (a DirEntry a file) is
// the plan's first memory.
//
// The directory stays open for the checks of its files (dirHandle), until
// the caller's release and theirs.
func (e *expander) readDir(path string) ([]fs.DirEntry, *dirHandle, error) {
	f, err := openDir(path)
	if err != nil {
		return nil, nil, err
	}
	var entries []fs.DirEntry
	for {
		block, err := f.ReadDir(1024)
		entries = append(entries, block...)
		if len(entries) >= ManyFilesAt {
			e.prepareForMany()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, openDirHandle(f), nil
}

// openDir opens a directory for readDir; tests replace it to refuse one,
// since the tests run as root where CI runs them, and root reads every
// directory.
var openDir = os.Open

// counted notes one more file found, calling manyFiles at the
// ManyFilesAt-th.
func (e *expander) counted() {
	e.files++
	if e.files == ManyFilesAt {
		e.prepareForMany()
	}
}

// prepareForMany calls manyFiles, once.
func (e *expander) prepareForMany() {
	if e.manyFiles != nil {
		e.manyFiles()
		e.manyFiles = nil
	}
}

// warnNested tells Warn of the finished outputs that arg's walk read, in
// one message, however many there are: a folder of a thousand earlier
// outputs read on purpose gets one line, not a thousand.
func (e *expander) warnNested(arg string) {
	nested, n := e.nested, e.nestedFiles
	e.nested, e.nestedFiles = nil, 0
	if len(nested) == 0 || e.warn == nil {
		return
	}
	const named = 3
	var which string
	switch {
	case len(nested) == 1:
		which = pathfmt.Quote(nested[0]) + ", the output of a finished job (it holds " + successMarker + ")"
	default:
		quoted := make([]string, 0, named)
		for _, p := range nested[:min(len(nested), named)] {
			quoted = append(quoted, pathfmt.Quote(p))
		}
		list := strings.Join(quoted, ", ")
		if len(nested) > named {
			list += fmt.Sprintf(" and %d more", len(nested)-named)
		}
		which = fmt.Sprintf("%d outputs of finished jobs (each holds %s: %s)", len(nested), successMarker, list)
	}
	e.warn(fmt.Sprintf("input argument %s reads %s, as %d more input files; if that is not meant, move them out of the input folder",
		pathfmt.Quote(arg), which, n))
}

// arg adds the files of one argument.
func (e *expander) arg(arg string) error {
	if existsLiterally(arg) {
		return e.path(arg, arg, false)
	}
	alts, err := expandBraces(arg)
	if err != nil {
		return err
	}
	e.matched = 0
	braced := len(alts) > 1 || alts[0] != arg
	for _, alt := range alts {
		if objstore.IsURL(alt) {
			err = e.objectAlt(alt, arg, braced)
		} else if isGlob(alt) {
			err = e.glob(alt, arg)
		} else {
			err = e.path(alt, arg, braced)
		}
		if err != nil {
			return err
		}
	}
	if e.matched == 0 && (braced || isGlob(arg)) {
		kind := "glob"
		if !isGlob(arg) {
			kind = "alternatives"
		}
		return fmt.Errorf("%w: %s %s matches no file (hidden and _ files are skipped)", ErrNoInput, kind, pathfmt.Quote(arg))
	}
	return nil
}

// expandBraces returns the alternatives that arg's braces stand for, in
// order; arg itself if it has none. A backslash escapes the next byte (on
// Unix; see escapes).
func expandBraces(arg string) ([]string, error) {
	return expandBracesSep(arg, filepath.Separator)
}

// expandBracesSep is expandBraces for a system whose separator is sep.
func expandBracesSep(arg string, sep rune) ([]string, error) {
	out := []string{}
	var expand func(s string) error
	expand = func(s string) error {
		open, close, commas := -1, -1, []int(nil)
		depth := 0
	scan:
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if escapes(sep) {
					i++
				}
			case '{':
				if depth == 0 {
					open, commas = i, nil
				}
				depth++
			case ',':
				if depth == 1 {
					commas = append(commas, i)
				}
			case '}':
				if depth == 0 {
					return fmt.Errorf("%w: %s has a '}' without its '{'", ErrBraces, pathfmt.Quote(arg))
				}
				depth--
				if depth == 0 {
					close = i
					break scan
				}
			}
		}
		if depth != 0 {
			return fmt.Errorf("%w: %s has a '{' without its '}'", ErrBraces, pathfmt.Quote(arg))
		}
		if open < 0 {
			if len(out) == maxBraceExpansions {
				return fmt.Errorf("%w: %s stands for more than %d paths", ErrBraces, pathfmt.Quote(arg), maxBraceExpansions)
			}
			out = append(out, s)
			return nil
		}
		prefix, suffix := s[:open], s[close+1:]
		from := open + 1
		for _, c := range append(commas, close) {
			// The suffix may hold braces of its own: expand the whole
			// rewritten string again.
			if err := expand(prefix + s[from:c] + suffix); err != nil {
				return err
			}
			from = c + 1
		}
		return nil
	}
	if err := expand(arg); err != nil {
		return nil, err
	}
	return out, nil
}

// isGlob reports whether arg contains a character that is special to
// filepath.Match. A file whose name really contains one can still be named
// through a pattern that escapes it (on Unix).
func isGlob(arg string) bool {
	return hasGlobMeta(arg, filepath.Separator)
}

// hasGlobMeta is isGlob for a system whose path separator is sep. Where it
// is `\` (Windows), filepath.Match has no escapes and `\` only separates,
// so `C:\data\books.txt` is a path, not a pattern.
func hasGlobMeta(arg string, sep rune) bool {
	if sep == '\\' {
		return strings.ContainsAny(arg, `*?[`)
	}
	return strings.ContainsAny(arg, `*?[\`)
}

// hidden reports whether a directory entry or glob match is skipped: Hadoop
// convention for hidden files and job bookkeeping such as _SUCCESS and
// _logs.
func hidden(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// jobOutputCopy reports whether a file of a directory is skipped because
// the directory is a finished Quern job's output (it holds _SUCCESS) and
// the file is its merged file (--merge), which holds the part files'
// records again: read with the parts, the folder would count every record
// twice. A merged file named on its own, or matched by a glob, is read.
func jobOutputCopy(name string, finishedOutput bool) bool {
	return finishedOutput && (name == "merged" || strings.HasPrefix(name, "merged."))
}

// successMarker is the file a finished job leaves in its output directory.
const successMarker = commit.SuccessName

// unfinishedError is the refusal of an unfinished job's output, where,
// holding the bookkeeping marker; parts is a glob that reads its files.
func unfinishedError(where, marker, parts string) error {
	return fmt.Errorf("%w: %s is the output of a job that has not finished: it holds %s and no %s. "+
		"The job is still running, or was stopped or failed while it wrote, so its files are at most part of an answer; "+
		"wait for the job or run it again, or name the files to read them anyway (%s)",
		ErrUnfinishedOutput, where, marker, successMarker, parts)
}

// glob adds the files that pattern matches, one path element at a time.
func (e *expander) glob(pattern, arg string) error {
	vol := filepath.VolumeName(pattern)
	rest := pattern[len(vol):]
	root := vol
	if rest != "" && os.IsPathSeparator(rest[0]) {
		root += string(filepath.Separator)
	}
	elems := strings.FieldsFunc(rest, func(r rune) bool { return r < 128 && os.IsPathSeparator(uint8(r)) })
	for _, el := range elems {
		// Report a malformed pattern even where nothing is there to match.
		if _, err := filepath.Match(el, ""); err != nil {
			return fmt.Errorf("input: glob %s: %w", pathfmt.Quote(arg), err)
		}
	}
	if root == "" {
		root = "."
	}
	return e.globFrom(root, elems, arg, nil)
}

// globFrom adds the matches of elems below dir. ancestors are the
// directories "**" has descended through, to stop at a link back into
// one of them.
func (e *expander) globFrom(dir string, elems []string, arg string, ancestors []fileKey) error {
	if err := e.stopped(arg); err != nil {
		return err
	}
	if len(elems) == 0 {
		return e.path(dir, arg, true)
	}
	el, more := elems[0], len(elems) > 1
	switch {
	case el == "**" && !more:
		// The directory's files and every folder's below it: what the
		// directory itself stands for, read recursively. Walked again
		// from each folder below, as a "**" in the middle is, every file
		// of a tree four folders deep was listed and stat'ed five times.
		return e.path(dir, arg, true)
	case el == "**":
		if err := e.globFrom(dir, elems[1:], arg, ancestors); err != nil {
			return err
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return globError(dir, arg, err)
		}
		if !fi.IsDir() {
			return nil
		}
		key := keyOf(dir, fi)
		if slices.Contains(ancestors, key) {
			return nil
		}
		ancestors = append(ancestors, key)
		entries, d, err := e.readDir(dir)
		if err != nil {
			return globError(dir, arg, err)
		}
		d.release() // only its folders are looked at
		for _, ent := range entries {
			p := filepath.Join(dir, ent.Name())
			if hidden(ent.Name()) || !isDir(p, ent) {
				continue
			}
			if err := e.globFrom(p, elems, arg, ancestors); err != nil {
				return err
			}
		}
		return nil
	case !isGlob(el):
		p := filepath.Join(dir, el)
		if _, err := globLstat(p); err != nil {
			return globError(p, arg, err)
		}
		return e.globFrom(p, elems[1:], arg, ancestors)
	default:
		entries, d, err := e.readDir(dir)
		if err != nil {
			return globError(dir, arg, err)
		}
		defer d.release()
		for _, ent := range entries {
			name := ent.Name()
			if hidden(name) && name[0] != el[0] {
				continue
			}
			if ok, _ := filepath.Match(el, name); !ok {
				continue
			}
			p := filepath.Join(dir, name)
			if more && !isDir(p, ent) {
				continue
			}
			if !more && ent.Type()&(fs.ModeSymlink|fs.ModeDir) == 0 {
				// A file the pattern names (logs/*.gz): stat'ed by the
				// checks, side by side, as a directory's files are,
				// rather than here one after another (path's os.Stat),
				// which made a glob over a folder take twice as long
				// as the folder.
				if err := e.stopped(arg); err != nil {
					return err
				}
				e.matched++
				e.add(fileCheck{path: p, arg: arg, ent: ent, dir: d.hold()})
				continue
			}
			if err := e.globFrom(p, elems[1:], arg, ancestors); err != nil {
				return err
			}
		}
		return nil
	}
}

// globError is what a glob makes of err, met reading the folder path or
// looking path up: no match where path, or a folder on its way, is
// missing or not a folder (a pattern a.txt/* over a file), else an error
// naming it. filepath.Glob ignores every such error, so a folder the job
// may not read or search (logs/*/*.gz with one month's folder unreadable)
// was left out without a word: a smaller input and a job that succeeded.
func globError(path, arg string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	// Listing a file is not ENOTDIR everywhere (Windows).
	if fi, serr := os.Stat(path); serr == nil && !fi.IsDir() && !errors.Is(err, fs.ErrPermission) {
		return nil
	}
	return fmt.Errorf("input: glob %s: %w", pathfmt.Quote(arg), err)
}

// globLstat is os.Lstat for a glob's literal elements; tests replace it,
// as openDir.
var globLstat = os.Lstat

// isDir reports whether the entry at path is a directory or a link to one.
func isDir(path string, ent fs.DirEntry) bool {
	if ent.Type()&fs.ModeSymlink == 0 {
		return ent.IsDir()
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// path adds the files that path stands for. arg is the --input argument it
// came from, for error messages. inPattern relaxes the rule that a
// directory must not be empty: a glob or braces may name several
// directories of which some are empty, and arg checks the total.
func (e *expander) path(path, arg string, inPattern bool) error {
	if arg == "-" {
		// Standard input, as for every command-line tool, even where a
		// file named - exists: reading that file instead would answer
		// from the wrong data.
		return fmt.Errorf("input: argument \"-\": standard input cannot be an input (%w): %s (a file named - is ./-)", ErrNotRegular, notAFile)
	}
	path = filepath.Clean(path)
	fi, err := os.Stat(path)
	if err != nil && errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(arg, "~") {
		// The shell expands ~ only unquoted and at a word's start:
		// --input=~/logs and -i '~/logs' reach Quern as written.
		return fmt.Errorf("input: argument %s: %w (the shell did not expand ~: write $HOME, or -i ~/… unquoted as a word of its own)", pathfmt.Quote(arg), err)
	}
	if err != nil {
		return fmt.Errorf("input: argument %s: %w", pathfmt.Quote(arg), err)
	}
	if !fi.IsDir() {
		e.matched++
		e.file(path, fi, arg)
		return nil
	}
	n, err := e.dir(path, fi, arg, nil)
	if err != nil {
		return err
	}
	e.matched += n
	if n == 0 && !inPattern {
		return fmt.Errorf("%w: directory %s holds no input file (hidden and _ files are skipped)", ErrNoInput, pathfmt.Quote(arg))
	}
	return nil
}

// dir adds the files below the directory path, described by fi, and
// returns how many there are. ancestors are the directories being read
// around it: a link back into one of them is not followed, or the walk
// would never end. A directory named twice (or linked to from elsewhere)
// is read twice, so that each file can be listed under its first name in
// sorted order.
func (e *expander) dir(path string, fi fs.FileInfo, arg string, ancestors []fileKey) (int, error) {
	key := keyOf(path, fi)
	if slices.Contains(ancestors, key) {
		return 0, nil
	}
	ancestors = append(ancestors, key)
	entries, d, err := e.readDir(path)
	if err != nil {
		return 0, fmt.Errorf("input: argument %s: %w", pathfmt.Quote(arg), err)
	}
	defer d.release()
	// A job's output directory: finished (_SUCCESS), or unfinished, the
	// bookkeeping of a job writing it beside its parts.
	finished, hasParts, unfinished := false, false, ""
	for _, ent := range entries {
		switch name := ent.Name(); {
		case name == successMarker:
			finished = true
		case commit.InProgress(name):
			unfinished = name
		case strings.HasPrefix(name, "part-"):
			hasParts = true
		}
	}
	if finished || !hasParts {
		unfinished = ""
	}
	if finished {
		if err := commit.Verify(path); err != nil {
			return 0, fmt.Errorf("input: argument %s: %w; run its job again, or name the files to read what is left anyway (%s)",
				pathfmt.Quote(arg), err, pathfmt.Quote(filepath.Join(path, "part-*")))
		}
	}
	// An output inside an output is the outer one's to report, so that
	// its files are counted once.
	inOutput := e.inOutput
	e.inOutput = inOutput || finished
	defer func() { e.inOutput = inOutput }()
	n := 0
	for _, ent := range entries {
		if err := e.stopped(arg); err != nil {
			return 0, err
		}
		if hidden(ent.Name()) || jobOutputCopy(ent.Name(), finished) {
			continue
		}
		p := filepath.Join(path, ent.Name())
		if ent.Type()&(fs.ModeSymlink|fs.ModeDir) == 0 {
			// Not a directory: its lstat is left to the checks too.
			e.add(fileCheck{path: p, arg: arg, ent: ent, dir: d.hold()})
			n++
			continue
		}
		// Follow a link; a dangling link is an error rather than a
		// silently smaller input.
		fi, err := os.Stat(p)
		if err != nil {
			return 0, fmt.Errorf("input: argument %s: %w", pathfmt.Quote(arg), err)
		}
		if !fi.IsDir() {
			e.file(p, fi, arg)
			n++
			continue
		}
		sub, err := e.dir(p, fi, arg, ancestors)
		if err != nil {
			return 0, err
		}
		n += sub
	}
	if finished && !inOutput && len(ancestors) > 1 && n > 0 {
		e.nested = append(e.nested, path)
		e.nestedFiles += n
	}
	if unfinished != "" && n > 0 {
		where := pathfmt.Quote(path)
		if len(ancestors) > 1 {
			where += " (below argument " + pathfmt.Quote(arg) + ")"
		}
		return 0, unfinishedError(where, unfinished, pathfmt.Quote(filepath.Join(path, "part-*")))
	}
	return n, nil
}

// stopped returns an error wrapping the expander's context's once it is
// done, naming the argument whose walk it stopped.
func (e *expander) stopped(arg string) error {
	if err := e.ctx.Err(); err != nil {
		return fmt.Errorf("input: listing argument %s stopped: %w", pathfmt.Quote(arg), err)
	}
	return nil
}

// file adds the file path, described by fi, to be checked and sniffed.
func (e *expander) file(path string, fi fs.FileInfo, arg string) {
	e.add(fileCheck{path: path, arg: arg, fi: fi})
}
