//go:build !windows

package mapreduce_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/quern-dev/quern/internal/procstat"
)

// childPids returns the pids of this process's live children, from /proc
// (none where there is no /proc).
func childPids(t testing.TB) []int {
	me := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, s := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		if err != nil {
			continue
		}
		if fields, err := procstat.Fields(pid); err == nil && len(fields) > 1 && fields[1] == me {
			kids = append(kids, pid)
		}
	}
	return kids
}
