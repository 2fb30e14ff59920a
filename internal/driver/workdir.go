package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/quern-dev/quern/internal/lockfile"
	"github.com/quern-dev/quern/internal/pathfmt"
)

// Work directories.
//
// A job keeps its runs in TMPDIR/_quern-JOB-RANDOM/, removed when the job
// ends. The leading "_" makes it bookkeeping to a walk of an input folder,
// as a job's _temporary is: a work directory kept (--keep-work-dir) or left
// by a killed driver inside an input folder (--tmp-dir data/tmp, -i data)
// was read as input by the next job, its spill runs counted as text. A driver killed with SIGKILL cannot remove it, so the directory
// holds a file "driver" with the driver's pid and its start time, which
// together name a process uniquely even after its pid is reused (processID,
// one file per platform: procid_linux.go reads /proc, procid_darwin.go asks
// sysctl, procid_windows.go GetProcessTimes; elsewhere the pid alone). CleanStale removes the work
// directories whose driver is gone; every job calls it at start-up, and
// `quern clean` calls it by hand.
//
// The pid and start time name a process only where they were read: in the
// PID namespace of the driver's container, on the driver's machine. A job
// in another container sharing the temporary directory (a mounted scratch
// volume), or on another machine sharing it over NFS, found no such
// process and removed a running job's work directory under it. So the
// driver also holds a lock on DIR/driver.lock (internal/lockfile: flock,
// LockFileEx) for as long as the directory is in use, and the kernel (or
// the NFS server) drops it with its holder wherever that runs: a lock
// that cannot be taken is a live driver. The pid file decides only for a
// directory without a lock file (made by Quern before 2026-12-06, or
// whose driver is removing it) and where there are no file locks. The
// lock is taken before the pid file is written, so a directory with its
// pid file has its lock.
//
// A directory kept for inspection (--keep-work-dir), or for --resume (a
// pipeline's, named after its output, left by a run that was interrupted
// or killed), holds a file "kept": the clean-up every job does at start-up
// leaves it, so that the next job does not remove what the user asked to
// keep; `quern clean` removes it once its driver is gone.
//
// A work directory is removed by renaming it to a tombstone first
// (WorkDir.Remove): RemoveAll deletes entries in whatever order the directory
// lists them, so a driver killed part-way could otherwise leave a directory
// whose "driver" file is gone and that nobody could tell from another
// program's. A tombstone is garbage by its name alone.

const (
	workPrefix   = "_quern-"
	tombstoneTag = ".removing"
	ownerFile    = "driver"      // the driver's process ID (processID)
	lockFile     = "driver.lock" // held by the driver while it uses the directory
	keptFile     = "kept"        // kept, for inspection or for --resume
)

// oldWorkPrefix named work directories until 2026-12: CleanStale removes
// those of dead drivers too.
const oldWorkPrefix = "quern-"

// A WorkDir is a work directory in use by this process, which holds its
// lock until Remove or Keep.
type WorkDir struct {
	Path string // absolute, for the summary of a kept one to name
	lock *lockfile.Lock
}

// Remove removes the work directory so that it stays recognisable until
// it is gone: renamed to DIR.removing, which CleanStale removes whoever
// left it, then deleted. The lock goes first: Windows neither renames a
// directory nor removes a file that is open.
func (w *WorkDir) Remove() error {
	w.lock.Release()
	tomb := w.Path + tombstoneTag
	if err := os.Rename(w.Path, tomb); err != nil {
		return os.RemoveAll(w.Path)
	}
	return os.RemoveAll(tomb)
}

// Keep leaves the work directory, marked kept, and drops its lock. The
// lock file goes with it (lockfile's Release removes it): a free lock says
// its driver has ended, which a process that kept a job's directory and
// runs on has not; without the file its pid decides.
func (w *WorkDir) Keep() error {
	w.lock.Release()
	return os.WriteFile(filepath.Join(w.Path, keptFile), nil, 0o644)
}

// createWorkDir makes a job's work directory in tmp, creating tmp (a
// --tmp-dir not made yet) as a pipeline does and as Hadoop and Spark do
// their local directories.
func createWorkDir(tmp, job string) (*WorkDir, error) {
	err := os.MkdirAll(tmpName(tmp), 0o755)
	dir := ""
	if err == nil {
		dir, err = os.MkdirTemp(tmp, workPrefix+safeName(job)+"-")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: create work directory in %s (--tmp-dir): %w", ErrConfig, pathfmt.Quote(tmpName(tmp)), err)
	}
	w, err := HoldWorkDir(dir, false)
	if err != nil {
		os.RemoveAll(dir)
	}
	return w, err
}

// HoldWorkDir takes the work directory dir, which the caller made (a
// pipeline's, named after its output so that --resume finds it again):
// its lock, and its pid file. A kept one is marked so at once, for the
// start-up clean-up of other jobs to leave it even when its driver is
// killed. On error nothing is held, and dir is left as it was found, less
// a lock file.
func HoldWorkDir(dir string, kept bool) (*WorkDir, error) {
	lock, err := acquireLock(filepath.Join(dir, lockFile))
	if err != nil && !errors.Is(err, lockfile.ErrLocked) {
		// A file system that takes no locks (some FUSE and network
		// mounts): the pid file alone tells, as before locks, on this
		// machine and in this PID namespace.
		lock, err = nil, nil
	}
	if err == nil && kept {
		err = os.WriteFile(filepath.Join(dir, keptFile), nil, 0o644)
	}
	if err == nil {
		var id string
		if id, err = processID(os.Getpid()); err == nil {
			err = os.WriteFile(filepath.Join(dir, ownerFile), []byte(id), 0o644)
		}
	}
	abs := dir
	if err == nil {
		abs, err = filepath.Abs(dir)
	}
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("work directory %s: %w", dir, err)
	}
	return &WorkDir{Path: abs, lock: lock}, nil
}

// acquireLock is lockfile.Acquire; tests fail it.
var acquireLock = lockfile.Acquire

func tmpName(tmp string) string {
	if tmp == "" {
		return os.TempDir()
	}
	return tmp
}

// CleanStale removes the work directories in tmp (the OS temp directory
// when empty) whose driver process is no longer running, kept ones too,
// and returns them.
func CleanStale(tmp string) ([]string, error) { return cleanStale(tmp, false) }

// cleanStale is CleanStale, leaving the kept directories when spareKept is
// set (a job's clean-up at start-up).
func cleanStale(tmp string, spareKept bool) ([]string, error) {
	var dirs []string
	for _, prefix := range []string{workPrefix, oldWorkPrefix} {
		matches, err := filepath.Glob(filepath.Join(tmpName(tmp), prefix+"*"))
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, matches...)
	}
	var removed []string
	for _, dir := range dirs {
		if strings.HasSuffix(dir, tombstoneTag) {
			// Half removed by a driver that died doing it, or being
			// removed now; either way it is nobody's any more.
			if err := os.RemoveAll(dir); err != nil {
				return removed, fmt.Errorf("remove stale work directory %s: %w", dir, err)
			}
			removed = append(removed, dir)
			continue
		}
		owner, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or still being created
		}
		if spareKept {
			if _, err := os.Lstat(filepath.Join(dir, keptFile)); err == nil {
				continue
			}
		}
		if !driverGone(dir, string(owner)) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return removed, fmt.Errorf("remove stale work directory %s: %w", dir, err)
		}
		removed = append(removed, dir)
	}
	return removed, nil
}

// driverGone reports whether the driver of work directory dir, whose pid
// file holds owner, has ended: by its lock where the directory has one,
// else by its process ID.
func driverGone(dir, owner string) bool {
	if held, err := lockfile.Held(filepath.Join(dir, lockFile)); err == nil {
		return !held
	}
	pid, _, _ := strings.Cut(owner, " ")
	n, err := strconv.Atoi(pid)
	if err != nil {
		return false // not a pid file of ours
	}
	live, err := processID(n)
	return err != nil || live != owner
}
