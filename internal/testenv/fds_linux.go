package testenv

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

// OpenDescriptors lists the process's open file descriptors (Linux's
// /proc/self/fd), without the one it opens to list them, so that a test
// can compare them before and after what must close every file it opens.
func OpenDescriptors(t testing.TB) []string {
	t.Helper()
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	own := strconv.Itoa(int(dir.Fd()))
	names = slices.DeleteFunc(names, func(n string) bool { return n == own })
	slices.Sort(names)
	return names
}
