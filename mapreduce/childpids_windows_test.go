package mapreduce_test

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// childPids returns the pids of this process's live children, from a
// snapshot of the system's processes.
func childPids(t testing.TB) []int {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		t.Fatalf("snapshot of the processes: %v", err)
	}
	defer windows.CloseHandle(snap)
	me := uint32(os.Getpid())
	var kids []int
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if e.ParentProcessID == me && e.ProcessID != me {
			kids = append(kids, int(e.ProcessID))
		}
	}
	return kids
}
