package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
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
	if !Advised() || !unlimited() {
		require.Zero(t, n, "the kernel's THP mode is not madvise, or memory is limited: nothing to do")
		t.Logf("THP mode is not madvise here, or memory is limited: GrowHeap returned 0 as it should")
		return
	}
	require.GreaterOrEqual(t, n, 64<<20)
	b := make([]byte, 16<<20)
	require.True(t, advisedHuge(t, b), "an allocation after GrowHeap reuses the advised range")
}

// TestGrowHeapCollectsOnce: GrowHeap frees its span with one collection,
// not the one its allocation would start plus its own (a worker pays each
// at its start), and leaves the collector's goal and memory limit as it
// found them, a worker's limit included.
func TestGrowHeapCollectsOnce(t *testing.T) {
	if !Advised() || !unlimited() {
		require.Zero(t, GrowHeap(64<<20), "nothing to do where the THP mode is not madvise or memory is limited")
		t.Logf("THP mode is not madvise here, or memory is limited: GrowHeap returned 0 as it should")
		return
	}
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(32 << 20)) // below the span, as a worker's is
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	require.GreaterOrEqual(t, GrowHeap(64<<20), 64<<20)
	runtime.ReadMemStats(&after)
	require.Equal(t, uint32(1), after.NumGC-before.NumGC, "collections run by GrowHeap")
	require.Equal(t, 150, debug.SetGCPercent(150), "the collector's goal, given back")
	require.Equal(t, int64(32<<20), debug.SetMemoryLimit(-1), "the memory limit, given back")
}

// limitedChildEnv names the resource a re-executed test binary limits
// before calling GrowHeap (TestGrowHeapUnderLimit).
const limitedChildEnv = "QUERN_HUGEPAGE_TEST_LIMIT"

// TestGrowHeapUnderLimit: under a limit on the address space or the data
// segment (ulimit -v, ulimit -d) GrowHeap leaves the heap alone. Its
// untouched allocation counts against such a limit, and the runtime ends a
// process whose allocation it cannot map: every worker of a job run under
// ulimit -v 1200000 died before its first task. The test re-executes
// itself with the limit set just above what it uses, so that a GrowHeap
// of 1 GiB cannot fit.
func TestGrowHeapUnderLimit(t *testing.T) {
	if name := os.Getenv(limitedChildEnv); name != "" {
		resource, field := unix.RLIMIT_AS, "VmSize"
		if name == "data" {
			resource, field = unix.RLIMIT_DATA, "VmData"
		}
		lim := unix.Rlimit{Cur: status(t, field) + 256<<20, Max: unix.RLIM_INFINITY}
		require.NoError(t, unix.Setrlimit(resource, &lim))
		fmt.Printf("grew %d\n", GrowHeap(1<<30))
		return
	}
	if !Advised() {
		t.Logf("THP mode is not madvise here: GrowHeap does nothing, limited or not")
	}
	for _, name := range []string{"as", "data"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestGrowHeapUnderLimit$", "-test.count=1")
			cmd.Env = append(os.Environ(), limitedChildEnv+"="+name)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "the limited process failed:\n%s", out)
			require.Contains(t, string(out), "grew 0\n")
		})
	}
}

// status is a size field of /proc/self/status in bytes: VmSize, the
// address space (what ulimit -v limits), or VmData, the private writable
// mappings (ulimit -d).
func status(t *testing.T, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		var kb uint64
		if n, _ := fmt.Sscanf(line, field+": %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
