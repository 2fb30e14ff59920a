package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
)

// TestMessage: a missing or forbidden path reads the same whichever system
// call met it and however the platform words it; other errors, and a path
// error reworded by a wrapper, read as they are.
func TestMessage(t *testing.T) {
	other := errors.New("Incorrect function.")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unix missing", fmt.Errorf("input: argument %q: %w", "nope.txt", &fs.PathError{Op: "stat", Path: "nope.txt", Err: fs.ErrNotExist}),
			`input: argument "nope.txt": no such file or directory: nope.txt`},
		{"windows missing", fmt.Errorf("cat: %w", &fs.PathError{Op: "GetFileAttributesEx", Path: `C:\data\nope.txt`, Err: fs.ErrNotExist}),
			`cat: no such file or directory: C:\data\nope.txt`},
		{"forbidden", fmt.Errorf("job history %s: %w", "out", &fs.PathError{Op: "open", Path: `out\_job.json`, Err: fs.ErrPermission}),
			`job history out: permission denied: out\_job.json`},
		{"other path error", fmt.Errorf("x: %w", &fs.PathError{Op: "remove", Path: "a", Err: other}),
			"x: remove a: Incorrect function."},
		{"reworded by a wrapper", fmt.Errorf("x: %v", &fs.PathError{Op: "stat", Path: "a", Err: fs.ErrNotExist}),
			"x: stat a: file does not exist"},
		{"no path error", errors.New("no app named \"x\""), `no app named "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := message(tc.err); got != tc.want {
				t.Errorf("message = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDanglingLinkSaid: a missing file that is a symbolic link (ls lists
// it) is said to be one, with its target.
func TestDanglingLinkSaid(t *testing.T) {
	link := filepath.Join(t.TempDir(), "broken")
	testenv.Symlink(t, "nowhere.txt", link)
	_, err := os.Stat(link)
	got := message(fmt.Errorf("input: argument %q: %w", "data", err))
	want := `input: argument "data": no such file or directory: ` + link + ` (a symbolic link to "nowhere.txt", which does not exist)`
	if got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

// TestDiskFullAdvice: a job that fills a disk (a spill run, a part file)
// ends with a line saying where a job writes and what to do, however the
// failure reached the driver: as a system error, or as a task's text from
// its worker, in Linux's or Windows' words. Other errors get no such line.
func TestDiskFullAdvice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		advice bool
	}{
		{"ENOSPC", fmt.Errorf("write output: %w", &fs.PathError{Op: "write", Path: "out/part-00000", Err: syscall.ENOSPC}), true},
		{"from a worker", errors.New("job wordcount: task map-00000 (big.txt:[0,33554490)) failed after 4 attempt(s): spill: write /tmp/q/run-0007.run: no space left on device"), true},
		{"from a Windows worker", errors.New(`task reduce-00001 failed: write C:\out\_temporary\part-00001: There is not enough space on the disk.`), true},
		{"other", errors.New("input: corrupt compressed file: bad.gz"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := message(tc.err)
			if has := strings.Contains(got, "\nquern: "+diskFullAdvice); has != tc.advice {
				t.Errorf("message = %q; advice %v, want %v", got, has, tc.advice)
			}
			if !strings.HasPrefix(got, pathMessage(tc.err)) {
				t.Errorf("message = %q, want it to start with the error itself", got)
			}
		})
	}
}

// TestKilledAdvice: a job whose worker was killed (the OOM killer's
// SIGKILL, which the error words only as "signal: killed") ends with a
// line saying what most likely killed it, the memory limit the process runs
// under where there is one, and what to change. Other errors get no such
// line.
func TestKilledAdvice(t *testing.T) {
	killed := errors.New("job sort: task map-00001 (big.txt:[33554432,67108864)) failed after 4 attempt(s): exec: worker pid 18793 died running task map-00001 attempt 4: signal: killed")
	got := message(killed)
	if !strings.HasPrefix(got, killed.Error()+"\nquern: a worker was killed (SIGKILL), most often by the kernel's OOM killer") ||
		!strings.HasSuffix(got, "fewer --workers, a smaller --sort-buffer (quern run --dry-run shows the memory it plans)") {
		t.Errorf("message = %q", got)
	}
	if got := message(errors.New("task map-00000 failed: exit status 2")); strings.Contains(got, "killed") {
		t.Errorf("message = %q, want no advice on a worker that exited", got)
	}
	limited := killedAdvice(150<<20, "/sys/fs/cgroup/job/memory.max", true)
	if !strings.Contains(limited, "; this process runs under a memory limit of 150MiB (/sys/fs/cgroup/job/memory.max); ") {
		t.Errorf("advice under a limit = %q", limited)
	}
	if free := killedAdvice(0, "", false); strings.Contains(free, "memory limit") {
		t.Errorf("advice without a limit = %q", free)
	}
}
