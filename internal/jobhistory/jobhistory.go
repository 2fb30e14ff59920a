// Package jobhistory keeps a copy of every finished job's report in one
// folder, as Spark's event log directory feeds its history server and
// Hadoop's JobHistory keeps its jobs. A job's own report, _job.json in its
// output directory, goes when the output is moved, overwritten or
// deleted, and a job that fails while it overwrites a finished output
// leaves none there at all (the previous output is put back as it was).
// With QUERN_HISTORY naming a folder, every job that ran, succeeded or
// failed, on any engine, adds an entry to it, and `quern ui` with no
// arguments serves them all.
//
// An entry is a folder shaped like a job's output directory without its
// parts, so the status pages read it as they read an output:
//
//	$QUERN_HISTORY/20261206T190102.123Z-wordcount-4711/_job.json
//	$QUERN_HISTORY/20261206T190102.123Z-wordcount-4711/_logs/map-00003-attempt-1.log
//
// Its name is the UTC time it was recorded, the job's name and the
// recording process's pid, so names sort oldest first. _logs holds the
// failed attempts' worker output that the job kept in its output
// directory, which the report's log links name relative to it. An entry
// is written under a hidden name (".tmp-…") and renamed into place, so a
// reader never sees half of one. The newest Keep entries stay: recording
// one removes the oldest beyond that.
package jobhistory

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quern-dev/quern/internal/commit"
)

// Env is the environment variable that names the history folder; unset
// or empty, no history is kept.
const Env = "QUERN_HISTORY"

// Keep is how many entries a history folder keeps.
const Keep = 1000

// TestEnv is the variable a test binary reads instead of Env, so that a
// developer's own history, named in their shell, never fills with a test
// run's jobs (nor loses its entries to them: the folder keeps Keep).
const TestEnv = "QUERN_TEST_HISTORY"

// Folder returns the history folder that Env names, or "" for none.
func Folder() string {
	if testing.Testing() {
		return os.Getenv(TestEnv)
	}
	return os.Getenv(Env)
}

// timeLayout is the time an entry's name starts with.
const timeLayout = "20060102T150405.000Z"

// An entry's files are named as in an output directory.
const (
	reportName = commit.SummaryName
	logsName   = commit.LogsName
)

// Record adds the report of a finished job to the history folder that Env
// names, with the _logs folder of its output directory outDir if it has
// one ("" for none); it does nothing when Env is unset. An error leaves no
// entry; the job's outcome does not depend on it.
func Record(report []byte, outDir string) error {
	folder := Folder()
	if folder == "" {
		return nil
	}
	return record(folder, report, outDir, time.Now(), Keep)
}

func record(folder string, report []byte, outDir string, now time.Time, keep int) error {
	var head struct{ Job string }
	if err := json.Unmarshal(report, &head); err != nil || head.Job == "" {
		return fmt.Errorf("job history: the report to record names no job")
	}
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return fmt.Errorf("job history: %w", err)
	}
	name := fmt.Sprintf("%s-%s-%d", now.UTC().Format(timeLayout), safeName(head.Job), os.Getpid())
	tmp, err := os.MkdirTemp(folder, ".tmp-"+name+"-")
	if err != nil {
		return fmt.Errorf("job history: %w", err)
	}
	// MkdirTemp's folder is the owner's only; an entry is readable as an
	// output directory is.
	err = os.Chmod(tmp, 0o755)
	if err == nil {
		err = write(tmp, report, outDir)
	}
	if err == nil {
		err = rename(tmp, filepath.Join(folder, name))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("job history: %w", err)
	}
	prune(folder, keep)
	return nil
}

// write fills the entry folder dir.
func write(dir string, report []byte, outDir string) error {
	if err := os.WriteFile(filepath.Join(dir, reportName), report, 0o644); err != nil {
		return err
	}
	if outDir == "" {
		return nil
	}
	logs := filepath.Join(outDir, logsName)
	if _, err := os.Stat(logs); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// The job wrote these, regular files only, so nothing in them is a
	// link that CopyFS would refuse.
	return os.CopyFS(filepath.Join(dir, logsName), os.DirFS(logs))
}

// rename moves the finished entry tmp to its name, or to the name with a
// counter when two jobs of one process end within a millisecond.
func rename(tmp, name string) error {
	for i := 0; ; i++ {
		to := name
		if i > 0 {
			to = fmt.Sprintf("%s.%d", name, i)
		}
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		return os.Rename(tmp, to)
	}
}

// prune removes the oldest entries of folder beyond keep. Other names,
// among them the hidden ones of entries being written, are left alone; a
// removal that fails is tried again by the next recording.
func prune(folder string, keep int) {
	all, err := os.ReadDir(folder)
	if err != nil {
		return
	}
	var entries []string
	for _, e := range all {
		if e.IsDir() && isEntry(e.Name()) {
			entries = append(entries, e.Name())
		}
	}
	if len(entries) <= keep {
		return
	}
	slices.Sort(entries)
	for _, name := range entries[:len(entries)-keep] {
		os.RemoveAll(filepath.Join(folder, name))
	}
}

// isEntry reports whether name is an entry's, so that a folder shared
// with other files never loses them: it starts with the time an entry's
// name starts with.
func isEntry(name string) bool {
	if len(name) <= len(timeLayout) || name[len(timeLayout)] != '-' {
		return false
	}
	_, err := time.Parse(timeLayout, name[:len(timeLayout)])
	return err == nil
}

// safeName keeps a job's name readable in a file name and makes it one
// file name on every system.
func safeName(job string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, job)
}
