package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
// A work directory is removed by renaming it to a tombstone first
// (removeWorkDir): RemoveAll deletes entries in whatever order the directory
// lists them, so a driver killed part-way could otherwise leave a directory
// whose "driver" file is gone and that nobody could tell from another
// program's. A tombstone is garbage by its name alone.

const (
	workPrefix   = "_quern-"
	tombstoneTag = ".removing"
)

// oldWorkPrefix named work directories until 2026-12: CleanStale removes
// those of dead drivers too.
const oldWorkPrefix = "quern-"

// removeWorkDir removes a work directory so that it stays recognisable
// until it is gone: renamed to DIR.removing, which CleanStale removes
// whoever left it, then deleted.
func removeWorkDir(dir string) error {
	tomb := dir + tombstoneTag
	if err := os.Rename(dir, tomb); err != nil {
		return os.RemoveAll(dir)
	}
	return os.RemoveAll(tomb)
}

// createWorkDir makes a job's work directory in tmp, creating tmp (a
// --tmp-dir not made yet) as a pipeline does and as Hadoop and Spark do
// their local directories.
func createWorkDir(tmp, job string) (string, error) {
	err := os.MkdirAll(tmpName(tmp), 0o755)
	dir := ""
	if err == nil {
		dir, err = os.MkdirTemp(tmp, workPrefix+safeName(job)+"-")
	}
	if err != nil {
		return "", fmt.Errorf("%w: create work directory in %s (--tmp-dir): %w", ErrConfig, pathfmt.Quote(tmpName(tmp)), err)
	}
	id, err := processID(os.Getpid())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "driver"), []byte(id), 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("work directory %s: %w", dir, err)
	}
	return dir, nil
}

func tmpName(tmp string) string {
	if tmp == "" {
		return os.TempDir()
	}
	return tmp
}

// CleanStale removes the work directories in tmp (the OS temp directory
// when empty) whose driver process is no longer running, and returns them.
func CleanStale(tmp string) ([]string, error) {
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
		owner, err := os.ReadFile(filepath.Join(dir, "driver"))
		if err != nil {
			continue // not ours, or still being created
		}
		pid, _, _ := strings.Cut(string(owner), " ")
		n, err := strconv.Atoi(pid)
		if err != nil {
			continue
		}
		if live, err := processID(n); err == nil && live == string(owner) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return removed, fmt.Errorf("remove stale work directory %s: %w", dir, err)
		}
		removed = append(removed, dir)
	}
	return removed, nil
}
