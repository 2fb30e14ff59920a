package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/lockfile"
)

// The output directory.
//
// A job owns its output directory from planning to exit: it holds a lock on
// PARENT/.NAME.quern-lock, beside the directory rather than in it, so that
// --overwrite, which empties the directory, never drops the lock, and the
// finished output holds nothing but the job's files. The kernel releases the
// lock when the driver dies, however it dies; a second job on the same
// output fails at once (exit status 2) instead of mixing its parts with the
// first one's.
//
// Every check compares resolved paths (absolute, symlinks followed, . and ..
// cleaned), so no alias of an input, the current folder or the home folder
// gets past it.

// isJobFile reports whether name is a file a job writes in its output
// directory: part files, the merged file, the markers and the summary, the
// attempts' _temporary directory, a failed job's _logs, and the temporary
// names of the markers. Only
// directories that hold nothing else may be overwritten.
func isJobFile(name string) bool {
	switch {
	case name == "_SUCCESS", name == "_job.json", name == "_temporary", name == logsDir,
		strings.HasPrefix(name, "_job.json.tmp"), strings.HasPrefix(name, "_SUCCESS.tmp"),
		strings.HasPrefix(name, "part-"), name == "merged", strings.HasPrefix(name, "merged."):
		return true
	}
	return false
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

// refuseOutput says why out (resolved) can never be an output directory,
// or returns nil: it must not be a folder a user keeps other things in
// (the root, the current folder or one above it, the home folder), nor
// hold or be one of the job's inputs.
func refuseOutput(name, out string, files []input.File) error {
	if filepath.Dir(out) == out {
		return fmt.Errorf("%w: output directory %s is the file system's root; name a new folder for the output", ErrConfig, name)
	}
	if wd, err := os.Getwd(); err == nil {
		if wd, err := resolvePath(wd); err == nil && within(wd, out) {
			return fmt.Errorf("%w: output directory %s is the current folder or one above it (%s); name a new folder for the output, e.g. -o out", ErrConfig, name, out)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if home, err := resolvePath(home); err == nil && within(home, out) {
			return fmt.Errorf("%w: output directory %s is the home folder or one above it (%s); name a new folder for the output", ErrConfig, name, out)
		}
	}
	for _, f := range files {
		if in, err := resolvePath(f.Path); err == nil && within(in, out) {
			return fmt.Errorf("%w: output directory %s contains input file %s", ErrConfig, name, f.Path)
		}
	}
	return nil
}

// prepareOutput takes the output directory for this job: it refuses a
// directory that lies where the job reads or that holds anything but a
// previous job's output (which it empties only with --overwrite), locks it
// against other jobs, and creates it with its _temporary directory. On
// success the caller must release d.outLock when the job is over.
func (d *driver) prepareOutput(files []input.File) error {
	out, err := resolvePath(d.out)
	if err != nil {
		return fmt.Errorf("%w: output %s: %w", ErrConfig, d.out, err)
	}
	if err := refuseOutput(d.out, out, files); err != nil {
		return err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("%w: create output directory %s: %w", ErrConfig, d.out, err)
	}
	lock, err := lockfile.Acquire(filepath.Join(parent, "."+filepath.Base(out)+".quern-lock"))
	if errors.Is(err, lockfile.ErrLocked) {
		return fmt.Errorf("%w: output directory %s is in use by another quern job (%v); wait for it to finish or choose another output", ErrConfig, d.out, err)
	}
	if err != nil {
		return fmt.Errorf("%w: output directory %s: %w", ErrConfig, d.out, err)
	}
	if err := d.emptyOutput(out); err != nil {
		lock.Release()
		return err
	}
	d.tmpOut = filepath.Join(d.out, "_temporary")
	if err := os.MkdirAll(d.tmpOut, 0o755); err != nil {
		lock.Release()
		d.tmpOut = ""
		return fmt.Errorf("%w: create output directory %s: %w", ErrConfig, d.out, err)
	}
	d.outLock = lock
	return nil
}

// emptyOutput makes sure the output directory out (resolved) is missing or
// empty, emptying a previous job's output when --overwrite allows it.
func (d *driver) emptyOutput(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		if fi, serr := os.Stat(out); serr == nil && !fi.IsDir() {
			return fmt.Errorf("%w: output %s is a file, not a directory; name a new folder for the output", ErrConfig, d.out)
		}
		return fmt.Errorf("%w: output directory %s: %w", ErrConfig, d.out, err)
	case len(entries) == 0:
		return nil
	}
	var foreign []string
	for _, e := range entries {
		if !isJobFile(e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		shown := foreign[:min(len(foreign), 3)]
		more := ""
		if len(foreign) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(foreign)-len(shown))
		}
		return fmt.Errorf("%w: output directory %s is not empty and holds files quern did not write (%s%s); choose a new output directory, or move those files away",
			ErrConfig, d.out, strings.Join(shown, ", "), more)
	}
	if !d.cfg.Overwrite && !isFailureReport(entries) {
		return fmt.Errorf("%w: output directory %s is not empty; choose a new one, remove it, or overwrite it (--overwrite)", ErrConfig, d.out)
	}
	// Only a previous job's files are here (with --overwrite), or a failed
	// run's report (writeFailureReport), which a new run replaces. Remove
	// them one by one, so the directory itself (its permissions, a symlink
	// to it) stays.
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("%w: overwrite output directory %s: %w", ErrConfig, d.out, err)
		}
	}
	return nil
}

// isFailureReport tells whether an output directory holds only what
// writeFailureReport leaves.
func isFailureReport(entries []os.DirEntry) bool {
	seen := false
	for _, e := range entries {
		switch e.Name() {
		case "_job.json":
			seen = true
		case logsDir:
		default:
			return false
		}
	}
	return seen
}

// removeOutput undoes a failed job's output: committed parts and the
// temporary directory go, so nothing left looks like a finished job. The
// directory itself stays if something else was put there meanwhile.
func (d *driver) removeOutput() {
	if d.tmpOut == "" {
		return
	}
	if d.upload != nil {
		if err := d.upload.remove(context.Background()); err != nil {
			d.cfg.Logger.Warn("cannot remove the failed job's uploaded output", "output", d.upload.url, "err", err)
		}
	}
	os.RemoveAll(d.tmpOut)
	for _, p := range d.parts {
		os.Remove(p)
	}
	os.Remove(d.out) // only succeeds when empty
}

// CheckOutputDir returns the error the local engine gives for an output
// directory that can never be one (the root, the current or home folder
// or one above them, a folder holding an input), so that another engine
// refuses the same directories.
func CheckOutputDir(dir string, inputs []input.File) error {
	out, err := resolvePath(dir)
	if err != nil {
		return fmt.Errorf("%w: output %s: %w", ErrConfig, dir, err)
	}
	return refuseOutput(dir, out, inputs)
}

// IsJobOutputFile reports whether name, an entry of an output directory,
// is a file a job writes there; --overwrite empties only directories that
// hold nothing else.
func IsJobOutputFile(name string) bool { return isJobFile(name) }
