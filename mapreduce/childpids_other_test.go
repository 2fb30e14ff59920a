//go:build !windows

package mapreduce_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// childPids returns the pids of this process's live children, from /proc
// (none where there is no /proc).
func childPids(t testing.TB) []int {
	me := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == me {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
			kids = append(kids, pid)
		}
	}
	return kids
}
