package mapreduce

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Work directories.
//
// A job keeps its runs in TMPDIR/quern-JOB-RANDOM/, removed when the job
// ends. A driver killed with SIGKILL cannot remove it, so the directory
// holds a file "driver" with the driver's pid and its start time (field 22
// of /proc/PID/stat, in clock ticks since boot), which together name a
// process uniquely even after its pid is reused. CleanStale removes the work
// directories whose driver is gone; every job calls it at start-up, and
// `quern clean` calls it by hand.

const workPrefix = "quern-"

func createWorkDir(tmp, job string) (string, error) {
	dir, err := os.MkdirTemp(tmp, workPrefix+safeName(job)+"-")
	if err != nil {
		return "", fmt.Errorf("create work directory in %q (--tmp-dir): %w", tmpName(tmp), err)
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

// processID is "PID STARTTIME" for a live process.
func processID(pid int) (string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name may hold spaces and parentheses; fields resume
	// after the last ')'. starttime is field 22, the 20th after it.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 {
		return "", fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.Itoa(pid) + " " + fields[19], nil
}

// CleanStale removes the work directories in tmp (the OS temp directory
// when empty) whose driver process is no longer running, and returns them.
func CleanStale(tmp string) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(tmpName(tmp), workPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, dir := range dirs {
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
