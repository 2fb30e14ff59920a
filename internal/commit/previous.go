package commit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A job that overwrites a finished output (Options.Overwrite) does not
// remove it when it takes the directory: the previous output is set aside
// in OUT/_previous and removed only once the new job has committed. A job
// that fails (bad input, a task that fails every attempt, Ctrl-C) puts it
// back as it was, and so does the next Open after a job that was killed,
// so that no failure of the new job loses the old answer. Spark's
// overwrite mode deletes first and loses it; Hadoop refuses the directory.
//
// The protocol, in the order of the renames, each directory synced where
// a later step relies on an earlier one being on disk:
//
//   - Set aside (Open): create OUT/_previous.partial, move _SUCCESS into
//     it first, so OUT no longer claims to be finished, then every other
//     entry; then rename _previous.partial to _previous, which marks the
//     set-aside complete: from here on, what else OUT holds is the new
//     job's.
//   - Discard (Commit): after the new _SUCCESS is on disk, remove
//     _previous.
//   - Put back (Abort, or Open after a killed job): remove the new job's
//     files from OUT, rename _previous to _previous.partial, move its
//     entries back with _SUCCESS last, remove _previous.partial.
//
// So Open, holding the lock (no job is running), can tell every state a
// crash leaves apart:
//
//   - OUT/_SUCCESS exists: OUT is a finished output (the new job's, or the
//     old one whose set-aside had not begun or whose putting back ended);
//     _previous and _previous.partial are stale and go.
//   - _previous exists: a job was killed after the set-aside and before
//     its commit: put the previous output back.
//   - _previous.partial exists: a set-aside or a putting back was cut
//     short; what else OUT holds is the previous output's: move the rest
//     back.
const (
	PreviousName    = "_previous"
	previousPartial = PreviousName + ".partial"
)

// setAside moves the finished output in out (its entries) into
// out/_previous; see above.
func setAside(out string, entries []os.DirEntry) error {
	partial := filepath.Join(out, previousPartial)
	if err := os.Mkdir(partial, 0o755); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(out, SuccessName), filepath.Join(partial, SuccessName)); err != nil {
		return err
	}
	// On disk before any other entry moves: a crash must never leave
	// _SUCCESS in OUT with a part gone.
	if err := syncDirs(out, partial); err != nil {
		return err
	}
	for _, e := range entries {
		switch name := e.Name(); name {
		case SuccessName:
		case TempName: // a finished output has none; a stale one is no part of it
			if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
				return err
			}
		default:
			if err := os.Rename(filepath.Join(out, name), filepath.Join(partial, name)); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(partial, filepath.Join(out, PreviousName)); err != nil {
		return err
	}
	return syncDir(out)
}

// recoverPrevious brings out back to one of two states after whatever a
// killed job left: no previous output set aside, or none at all.
func recoverPrevious(out string) error {
	previous := filepath.Join(out, PreviousName)
	partial := filepath.Join(out, previousPartial)
	_, perr := os.Lstat(previous)
	_, qerr := os.Lstat(partial)
	if perr != nil && qerr != nil {
		return nil // the usual case; the caller's checks say what else is wrong
	}
	if _, err := os.Lstat(filepath.Join(out, SuccessName)); err == nil {
		if err := os.RemoveAll(previous); err != nil {
			return err
		}
		return os.RemoveAll(partial)
	}
	return putBack(out)
}

// putBack replaces the new job's files in out with the previous output
// set aside in out/_previous (or the rest of it, from
// out/_previous.partial); see above. Files in out that no job writes are
// left to the caller's checks.
func putBack(out string) error {
	previous := filepath.Join(out, PreviousName)
	partial := filepath.Join(out, previousPartial)
	if _, err := os.Lstat(previous); err == nil {
		entries, err := os.ReadDir(out)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if name := e.Name(); name != PreviousName && IsJobFile(name) {
				if err := os.RemoveAll(filepath.Join(out, name)); err != nil {
					return err
				}
			}
		}
		if err := syncDir(out); err != nil {
			return err
		}
		if err := os.Rename(previous, partial); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(partial)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if name := e.Name(); name != SuccessName {
			if err := os.Rename(filepath.Join(partial, name), filepath.Join(out, name)); err != nil {
				return err
			}
		}
	}
	if err := syncDirs(out, partial); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(partial, SuccessName), filepath.Join(out, SuccessName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := syncDir(out); err != nil {
		return err
	}
	return os.RemoveAll(partial)
}

// syncDirs syncs each directory (syncDir).
func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}
