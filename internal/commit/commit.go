// Package commit is the output committer: how a job takes an output
// directory, makes its part files visible all at once, and marks the
// output finished, so that a reader who sees _SUCCESS sees every part and
// nothing else. The local engine's driver (package mapreduce) and Beam's
// launcher (beam/beamjob, for a local output directory) commit through
// it. The protocol:
//
//  1. Open takes the directory: it refuses one that lies where the job
//     reads or that a user keeps other things in, locks it against other
//     jobs, sets a previous job's finished output aside in OUT/_previous
//     (only with Overwrite; see previous.go) or empties what an unfinished
//     job left, and creates OUT/_temporary.
//  2. Attempts write under OUT/_temporary (AttemptDir); CommitPart renames
//     a finished part into OUT, which makes the whole file visible at once.
//  3. Commit removes _temporary, writes _job.json, then _SUCCESS (the
//     manifest of the parts, manifest.go), each atomically and durably
//     (WriteFileAtomic): _SUCCESS is the commit point; then the previous output set aside goes. A failed job calls
//     Abort instead, which removes what it committed and puts a previous
//     output back, and may leave a report (Report) where there was none.
//  4. Close releases the lock.
//
// The lock is PARENT/.NAME.quern-lock, beside the directory rather than in
// it, so that Overwrite, which empties the directory, never drops the
// lock, and the finished output holds nothing but the job's files. The
// kernel releases it when the process dies, however it dies.
//
// Every check compares resolved paths (absolute, symlinks followed, . and
// .. cleaned), so no alias of an input, the current folder or the home
// folder gets past it.
package commit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quern-dev/quern/internal/lockfile"
)

// Names of what a job writes in its output directory.
const (
	SuccessName = "_SUCCESS"
	SummaryName = "_job.json"
	TempName    = "_temporary"
	// LogsName holds a failed job's failed attempts' logs.
	LogsName = "_logs"
)

// IsJobFile reports whether name is a file a job writes in its output
// directory: part files, the merged file, the markers and the summary,
// the attempts' _temporary directory, a failed job's _logs, and the
// temporary names of the markers. Only directories that hold nothing else
// may be overwritten.
func IsJobFile(name string) bool {
	switch {
	case name == SuccessName, name == SummaryName, name == TempName, name == LogsName,
		name == PreviousName, name == previousPartial,
		strings.HasPrefix(name, SummaryName+".tmp"), strings.HasPrefix(name, SuccessName+".tmp"),
		strings.HasPrefix(name, "part-"), name == "merged", strings.HasPrefix(name, "merged."):
		return true
	}
	return false
}

// InProgress reports whether name, in an output directory without
// _SUCCESS, is the bookkeeping of a job writing the directory (its
// _temporary, a previous output set aside, its _job.json written before
// _SUCCESS): with part files beside it, the directory is some of an
// answer at most.
func InProgress(name string) bool {
	switch name {
	case TempName, PreviousName, previousPartial, SummaryName:
		return true
	}
	return false
}

// Options say how to take an output directory.
type Options struct {
	// Overwrite lets Open empty a directory that holds a previous job's
	// output; without it only a failed job's report is replaced.
	Overwrite bool
	// Inputs are the job's input files, which the output may not hold.
	Inputs []string
	// Usage is wrapped by every error that says the directory cannot be
	// this job's output (a configuration error, exit status 2), e.g.
	// mapreduce.ErrConfig.
	Usage error
}

// Dir is a job's output directory, from Open to Close.
type Dir struct {
	path    string // as the user gave it, for messages and part names
	tmp     string // path/_temporary
	lock    *lockfile.Lock
	created bool // Open created the directory (Abort may remove it)
	aside   bool // Open set a previous output aside (Abort puts it back)
	kept    bool // Abort put the previous output back

	mu    sync.Mutex
	parts []string // committed by CommitPart, for Abort
}

// Open takes the output directory path for a job; see the package doc.
// The caller must Close it when the job is over.
func Open(path string, o Options) (*Dir, error) {
	out, err := resolvePath(path)
	if err != nil {
		return nil, usage(o, "output %s: %w", path, err)
	}
	if err := refuse(path, out, o); err != nil {
		return nil, err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, usage(o, "create output directory %s: %w", path, err)
	}
	lock, err := lockfile.Acquire(filepath.Join(parent, "."+filepath.Base(out)+".quern-lock"))
	if errors.Is(err, lockfile.ErrLocked) {
		return nil, usage(o, "output directory %s is in use by another quern job (%v); wait for it to finish or choose another output", path, err)
	}
	if err != nil {
		return nil, usage(o, "output directory %s: %w", path, err)
	}
	d := &Dir{path: path, tmp: filepath.Join(path, TempName), lock: lock}
	// Before anything else looks at it: a job killed while a previous
	// output was set aside leaves the directory in a state only the
	// set-aside protocol knows.
	if err := recoverPrevious(out); err != nil {
		lock.Release()
		return nil, fmt.Errorf("output directory %s: put back the previous output a killed job set aside: %w", path, err)
	}
	if d.created, d.aside, err = empty(path, out, o); err != nil {
		lock.Release()
		return nil, err
	}
	if err := os.MkdirAll(d.tmp, 0o755); err != nil {
		lock.Release()
		return nil, usage(o, "create output directory %s: %w", path, err)
	}
	return d, nil
}

func usage(o Options, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	if o.Usage != nil {
		return fmt.Errorf("%w: %w", o.Usage, err)
	}
	return err
}

// Path is the directory as given to Open.
func (d *Dir) Path() string { return d.path }

// Temp is the directory attempts write under, OUT/_temporary.
func (d *Dir) Temp() string { return d.tmp }

// AttemptDir creates and returns the directory of one attempt of a task
// under Temp; the attempt writes its part there and CommitPart moves it.
func (d *Dir) AttemptDir(task string, attempt int) (string, error) {
	dir := filepath.Join(d.tmp, fmt.Sprintf("%s-attempt-%d", task, attempt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create attempt directory: %w", err)
	}
	return dir, nil
}

// CommitPart renames the finished file from (under Temp) to OUT/name,
// which makes the whole part visible at once, and returns its path. The
// caller makes sure only one attempt of a task commits.
func (d *Dir) CommitPart(from, name string) (string, error) {
	final := filepath.Join(d.path, name)
	if err := os.Rename(from, final); err != nil {
		return "", fmt.Errorf("commit %s: %w", final, err)
	}
	d.mu.Lock()
	d.parts = append(d.parts, final)
	d.mu.Unlock()
	return final, nil
}

// Commit ends a successful job: it removes Temp, writes the summary as
// _job.json and then _SUCCESS, the marker that every part is in place.
// publish, when not nil, replaces the local _SUCCESS: an object-store
// output uploads the directory and writes its own marker.
func (d *Dir) Commit(summary []byte, publish func() error) error {
	if err := os.RemoveAll(d.tmp); err != nil {
		return fmt.Errorf("remove %s: %w", d.tmp, err)
	}
	if err := WriteFileAtomic(filepath.Join(d.path, SummaryName), summary); err != nil {
		return err
	}
	if publish != nil {
		if err := publish(); err != nil {
			return err
		}
	} else {
		d.mu.Lock()
		list, err := successContent(d.parts)
		d.mu.Unlock()
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(filepath.Join(d.path, SuccessName), list); err != nil {
			return err
		}
	}
	if d.aside {
		// Committed: the previous output is no longer needed. Should this
		// fail, the next Open removes it (OUT has _SUCCESS).
		os.RemoveAll(filepath.Join(d.path, PreviousName))
		d.aside = false
	}
	return nil
}

// Abort undoes a failed job's output: committed parts and Temp go, so
// nothing left looks like a finished job, and the directory too if Open
// created it and nothing else was put there meanwhile. A previous output
// that Open set aside is put back as it was (KeptPrevious).
func (d *Dir) Abort() {
	removeTemp(d.tmp)
	d.mu.Lock()
	for _, p := range d.parts {
		os.Remove(p)
	}
	d.parts = nil
	d.mu.Unlock()
	if d.aside {
		// Should this fail (a disk error), the next Open tries again.
		if err := putBack(d.path); err == nil {
			d.aside, d.kept = false, true
		}
	}
	if d.created {
		os.Remove(d.path) // only succeeds when empty
	}
}

// KeptPrevious reports whether Abort put back the finished output of a
// previous job that this one was to overwrite. Its _job.json and _logs are
// that job's, so the failed job leaves no report (Report does nothing).
func (d *Dir) KeptPrevious() bool { return d.kept }

// removeTemp removes the attempts' directory tmp of an aborted job while
// attempts that were not stopped may still create files in it: a Beam
// runner stops an abandoned bundle at its next element, not at once.
// os.RemoveAll alone fails "directory not empty" when a file appears while
// it empties the directory, which then stays, late file and all. So tmp is
// first renamed aside: an attempt's file is created by its path under tmp
// (nothing makes tmp again), so later creates fail, and only one already
// under way can still land in the renamed directory, which the removal is
// retried for. Where the rename is refused (Windows, with a file open),
// tmp is removed where it is.
func removeTemp(tmp string) {
	aside := fmt.Sprintf("%s-aborted-%d-%d", tmp, os.Getpid(), time.Now().UnixNano())
	if err := os.Rename(tmp, aside); err != nil {
		aside = tmp
	}
	for range 5 {
		if err := os.RemoveAll(aside); err == nil {
			return
		}
	}
}

// Report leaves a failed job's summary as _job.json in the (otherwise
// emptied) directory. There is no _SUCCESS, and the next Open replaces
// it. Not synced: a report need not survive a crash, and a job stopped by
// a signal should exit without waiting on the disk.
func (d *Dir) Report(summary []byte) error {
	if d.kept {
		return nil
	}
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.path, SummaryName), summary, 0o644)
}

// Close releases the directory's lock; the job's files stay.
func (d *Dir) Close() {
	d.lock.Release()
}

// resolvePath returns path made absolute and cleaned with every symlink
// followed, as far as it exists: the missing tail of a path that does not
// exist yet is appended to its longest existing ancestor, resolved.
func resolvePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var tail []string
	for dir := abs; ; dir = filepath.Dir(dir) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			slices.Reverse(tail)
			return filepath.Join(append([]string{real}, tail...)...), nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(dir) == dir {
			return abs, nil
		}
		tail = append(tail, filepath.Base(dir))
	}
}

// within reports whether path is dir or lies inside it; both resolved.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// refuse says why out (name, resolved) can never be an output directory,
// or returns nil: it must not be a folder a user keeps other things in
// (the root, the current folder or one above it, the home folder), nor
// hold or be one of the job's inputs.
func refuse(name, out string, o Options) error {
	if name == "-" {
		return usage(o, "output \"-\" is not standard output: a job writes a directory of part files; "+
			"name a directory and print it with quern cat DIR (a directory named - is ./-)")
	}
	if filepath.Dir(out) == out {
		return usage(o, "output directory %s is the file system's root; name a new folder for the output", name)
	}
	if wd, err := os.Getwd(); err == nil {
		if wd, err := resolvePath(wd); err == nil && within(wd, out) {
			return usage(o, "output directory %s is the current folder or one above it (%s); name a new folder for the output, e.g. -o out", name, out)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if home, err := resolvePath(home); err == nil && within(home, out) {
			return usage(o, "output directory %s is the home folder or one above it (%s); name a new folder for the output", name, out)
		}
	}
	if _, err := os.Lstat(out); errors.Is(err, fs.ErrNotExist) {
		// A directory that does not exist holds no input (the inputs
		// exist), so a new output, the usual case, costs nothing here.
		return nil
	}
	dirs := map[string]string{}
	for _, f := range o.Inputs {
		if in, err := resolveInput(f, dirs); err == nil && within(in, out) {
			return usage(o, "output directory %s contains input file %s", name, f)
		}
	}
	return nil
}

// resolveInput is resolvePath for an input file, resolving each directory
// once (dirs maps a directory to its resolved path): a file that is not a
// symbolic link resolves to its resolved directory joined with its name.
// resolvePath alone costs about six system calls per file (one per path
// element, and the working directory), which over 20,000 tiny files was 5%
// of a word count's CPU.
func resolveInput(path string, dirs map[string]string) (string, error) {
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
		return resolvePath(path)
	}
	dir := filepath.Dir(path)
	real, ok := dirs[dir]
	if !ok {
		var err error
		if real, err = resolvePath(dir); err != nil {
			return "", err
		}
		dirs[dir] = real
	}
	return filepath.Join(real, filepath.Base(path)), nil
}

// empty makes sure the output directory out (name, resolved) is missing
// or holds no output, setting a previous job's finished output aside when
// Overwrite allows it (setAside) and removing what an unfinished job left.
// It reports whether the directory was missing, and whether it set an
// output aside.
func empty(name, out string, o Options) (missing, aside bool, err error) {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return true, false, nil
	case err != nil:
		if fi, serr := os.Stat(out); serr == nil && !fi.IsDir() {
			return false, false, usage(o, "output %s is a file, not a directory; name a new folder for the output", name)
		}
		return false, false, usage(o, "output directory %s: %w", name, err)
	case len(entries) == 0:
		return false, false, nil
	}
	var foreign []string
	for _, e := range entries {
		if !IsJobFile(e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		shown := foreign[:min(len(foreign), 3)]
		more := ""
		if len(foreign) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(foreign)-len(shown))
		}
		return false, false, usage(o, "output directory %s is not empty and holds files quern did not write (%s%s); choose a new output directory, or move those files away",
			name, strings.Join(shown, ", "), more)
	}
	if !o.Overwrite && !holdsNoOutput(entries) {
		return false, false, usage(o, "output directory %s is not empty; choose a new one, remove it, or overwrite it (--overwrite)", name)
	}
	// Only a previous job's files are here (with Overwrite), or what a
	// job that never committed left, which a new run replaces. A finished
	// output is kept until the new one commits; the rest is removed. Both
	// entry by entry, so the directory itself (its permissions, a symlink
	// to it) stays.
	if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == SuccessName }) {
		if err := setAside(out, entries); err != nil {
			putBack(out) // or the next Open does
			return false, false, usage(o, "overwrite output directory %s: set the previous output aside: %w", name, err)
		}
		return false, true, nil
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
			return false, false, usage(o, "overwrite output directory %s: %w", name, err)
		}
	}
	return false, false, nil
}

// holdsNoOutput tells whether an output directory holds only what a job
// that never committed leaves: a failed job's report and logs, or the
// _temporary folder of a job that was killed (kill -9, a power cut) before
// it could clean up. Neither holds a part, so a new run may take the
// directory without --overwrite: the lock, taken before this check, tells
// that the job that left them is gone. A job killed while committing has
// parts in place and stays refused.
func holdsNoOutput(entries []os.DirEntry) bool {
	for _, e := range entries {
		switch e.Name() {
		case SummaryName, LogsName, TempName:
		default:
			return false
		}
	}
	return true
}

// WriteFileAtomic writes data to path so that path is either absent or
// whole, even if the disk fills or the process dies: it writes a
// temporary name, syncs it, renames it into place and syncs the directory,
// so the rename, and every rename before it (the parts), is on disk before
// the caller writes the next marker.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = replace(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes the renames into dir durable. Not every system can sync
// a directory (Windows cannot open one for it); there the rename stands
// on its own.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, os.ErrPermission) {
		return err
	}
	return nil
}
