package hugepage

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// modeFile holds the kernel's THP mode, the chosen one in brackets:
// "always [madvise] never".
const modeFile = "/sys/kernel/mm/transparent_hugepage/enabled"

// Advised reports whether the kernel gives huge pages only where asked, the
// one mode in which GrowHeap changes anything.
func Advised() bool {
	b, err := os.ReadFile(modeFile)
	return err == nil && bytes.Contains(b, []byte("[madvise]"))
}

// GrowHeap grows the heap by n bytes (rounded up to whole huge pages) and
// advises them huge, as the package comment says, with the heap mapped below
// them: the page allocator fills the lowest free addresses first, so a hole
// the program freed there takes the next allocations. It returns the
// advised length in bytes, 0 when it did nothing.
//
// It does nothing where growing the heap by n could fail: a process whose
// address space or data segment is limited (ulimit -v, ulimit -d, as
// shared login nodes and batch systems set them) or a kernel that commits
// no memory it cannot back (vm.overcommit_memory=2). There the untouched
// allocation still counts, and the Go runtime cannot return an error for
// an allocation it could not map: it ends the process. Under ulimit -v
// 1200000 every worker died that way before its first task, while the
// same job ran without the allocation.
func GrowHeap(n int) int {
	if n <= 0 || !Advised() || !unlimited() {
		return 0
	}
	// An allocation this large starts a collection of its own (it passes
	// the heap's goal, and a worker's memory limit), which the one below
	// would wait out before running its own: two where one frees the
	// span. At a worker's start, on cores the other processes of the job
	// are starting on, the two took 5-13 ms, mostly waits to stop the world.
	gcPercent, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(math.MaxInt64)
	b := make([]byte, n+Size) // one span of fresh, untouched heap pages
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	end := start + uintptr(len(b))
	if lo, ok := mappingStart(start); ok {
		start = lo
	}
	advised := advise(start, end)
	runtime.KeepAlive(b)
	b = nil
	// Free the span now rather than at the first collection a task runs
	// into, so that the task's allocations find it free, and give its
	// pages (never touched) back to the system at once: a limit given
	// back below what the process holds from the system would start a
	// collection at the next allocation, and make the runtime's scavenger
	// return pages in the background while the first task runs.
	debug.FreeOSMemory()
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(gcPercent)
	return advised
}

// overcommitFile holds the kernel's overcommit mode: 2 commits no more
// than swap and a share of memory can back.
const overcommitFile = "/proc/sys/vm/overcommit_memory"

// unlimited reports whether an allocation the process never touches is
// free: no limit on its address space or data segment, and a kernel that
// overcommits.
func unlimited() bool {
	for _, resource := range []int{unix.RLIMIT_AS, unix.RLIMIT_DATA} {
		var lim unix.Rlimit
		if err := unix.Getrlimit(resource, &lim); err != nil || lim.Cur != unix.RLIM_INFINITY {
			return false
		}
	}
	mode, err := os.ReadFile(overcommitFile)
	return err == nil && string(bytes.TrimSpace(mode)) != "2"
}

// Advise advises the whole huge pages inside b MADV_HUGEPAGE and returns
// their length in bytes. b must be memory the Go runtime will not unmap
// (the heap is never unmapped).
func Advise(b []byte) int {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return advise(start, start+uintptr(len(b)))
}

// advise advises the whole huge pages in [start, end) and returns their
// length in bytes.
func advise(start, end uintptr) int {
	begin := (start + Size - 1) &^ (Size - 1)
	end &^= Size - 1
	if end <= begin {
		return 0
	}
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, begin, end-begin, unix.MADV_HUGEPAGE); errno != 0 {
		return 0
	}
	return int(end - begin)
}

// mappingStart returns the start of the mapping in /proc/self/maps that
// holds addr. The kernel merges adjacent anonymous mappings alike, so for a
// heap address it is where the heap's mapped pages begin.
func mappingStart(addr uintptr) (uintptr, bool) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); n == 2 && lo <= addr && addr < hi {
			return lo, true
		}
	}
	return 0, false
}
