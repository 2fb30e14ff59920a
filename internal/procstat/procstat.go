// Package procstat reads a process's status line, /proc/PID/stat, where
// the system has a Linux-style /proc: the driver tells a dead driver's
// work directory by it, and tests tell a zombie from a live process.
package procstat

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// Fields returns the fields of /proc/PID/stat after the command name: the
// process's state first (field 3 of proc(5)), then its parent's pid, and
// so on. The command name may hold spaces and parentheses, so the fields
// resume after the last ')'. There is at least the state, else an error;
// a failed read is os.ReadFile's error: fs.ErrNotExist for a process that
// is gone, or for a system without /proc.
func Fields(pid int) ([]string, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	if runtime.GOOS == "windows" {
		// There "/proc/…" is a folder of the current drive, nothing
		// to do with processes; under Wine it is the Linux host's
		// /proc, whose pids are not Windows's.
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	stat, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(pid, stat)
}

// parse is Fields for the bytes of /proc/PID/stat.
func parse(pid int, stat []byte) ([]string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name in %q", pid, stat)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) == 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no state in %q", pid, stat)
	}
	return fields, nil
}

// Exited reports whether a process in state state (Fields' first) has
// exited and only waits to be reaped: a zombie (Z), or dead (X).
func Exited(state string) bool { return state == "Z" || state == "X" }
