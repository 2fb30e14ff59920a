package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// vmFlags returns the VmFlags line of the mapping in /proc/self/smaps that
// holds addr ("rd wr mr mw me ac hg" for one advised huge).
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	inside := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			inside = lo <= addr && addr < hi
			continue
		}
		if inside && strings.HasPrefix(line, "VmFlags:") {
			return line
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}

func advisedHuge(t *testing.T, b []byte) bool {
	t.Helper()
	return strings.Contains(vmFlags(t, uintptr(unsafe.Pointer(&b[len(b)/2])))+" ", " hg ")
}

func TestAdvise(t *testing.T) {
	// A mapping of its own: the heap may have been advised by GrowHeap.
	b, err := unix.Mmap(-1, 0, 8<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	require.NoError(t, err)
	defer unix.Munmap(b)
	require.False(t, advisedHuge(t, b), "a fresh mapping is not advised huge")
	n := Advise(b)
	require.GreaterOrEqual(t, n, 6<<20, "the whole huge pages inside 8 MiB")
	require.Zero(t, n%Size)
	require.True(t, advisedHuge(t, b))

	require.Zero(t, Advise(make([]byte, Size/2)), "no whole huge page inside")
	require.Zero(t, Advise(nil))
}

// TestGrowHeap checks the point of GrowHeap: an allocation made after it
// lands in memory advised huge, where the kernel wants to be asked.
func TestGrowHeap(t *testing.T) {
	n := GrowHeap(64 << 20)
	if !Advised() {
		require.Zero(t, n, "the kernel's THP mode is not madvise: nothing to do")
		t.Logf("THP mode is not madvise here: GrowHeap returned 0 as it should")
		return
	}
	require.GreaterOrEqual(t, n, 64<<20)
	b := make([]byte, 16<<20)
	require.True(t, advisedHuge(t, b), "an allocation after GrowHeap reuses the advised range")
}
