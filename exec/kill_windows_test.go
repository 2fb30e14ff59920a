package exec_test

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// How a worker killed from outside (TerminateProcess, as Task Manager or
// taskkill /F do it) is reported: Windows has no signals, only the exit
// status that the killer chose, 1 for os.Process.Kill.
const (
	killedSignal   = ""
	killedExitCode = 1
)

// killPid ends pid outright with exit status 1.
func killPid(pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.TerminateProcess(h, 1)
}

// processGone reports whether pid no longer runs.
func processGone(pid int) bool {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_INVALID_PARAMETER) // no such process
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, 0)
	return err == nil && ev == windows.WAIT_OBJECT_0
}

// processReaped is processGone: Windows has no zombies to reap.
func processReaped(pid int) bool { return processGone(pid) }

// freezePid suspends every thread of pid (NtSuspendProcess, which Process
// Explorer's Suspend uses): it is alive and reads nothing.
func freezePid(pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_SUSPEND_RESUME, false, uint32(pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	if r, _, _ := ntSuspendProcess.Call(uintptr(h)); r != 0 {
		return fmt.Errorf("NtSuspendProcess: NTSTATUS %#x", r)
	}
	return nil
}

var ntSuspendProcess = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtSuspendProcess")
