package winjob

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Tree is a job for one command and the processes it starts.
type Tree struct {
	mu     sync.Mutex
	job    windows.Handle
	closed bool
}

// ntResumeProcess resumes a process started with CREATE_SUSPENDED: os/exec
// keeps no handle to its first thread, which ResumeThread would need.
var ntResumeProcess = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtResumeProcess")

// New makes a job that kills its processes when it is closed: by Close,
// or by Windows when the caller exits, however it exits.
func New() (*Tree, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("creating a job object: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("setting up a job object: %w", err)
	}
	return &Tree{job: job}, nil
}

// Start starts cmd in the job, as cmd.Start does; the caller waits for cmd
// as usual. If cmd cannot join the job it is killed, reaped and not run.
func (t *Tree) Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := join(t.job, cmd); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	return nil
}

// join puts the suspended cmd in job and resumes it.
func join(job windows.Handle, cmd *exec.Cmd) error {
	pid := uint32(cmd.Process.Pid)
	// cmd holds a handle to the process until it is waited for, so the
	// pid cannot have been reused.
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE|windows.PROCESS_SUSPEND_RESUME, false, pid)
	if err != nil {
		return fmt.Errorf("opening %s (pid %d): %w", cmd.Path, pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("putting %s (pid %d) in its job object: %w", cmd.Path, pid, err)
	}
	if err := ntResumeProcess.Find(); err != nil {
		return fmt.Errorf("resuming %s (pid %d): %w", cmd.Path, pid, err)
	}
	if st, _, _ := ntResumeProcess.Call(uintptr(h)); st != 0 {
		return fmt.Errorf("resuming %s (pid %d): NTSTATUS %#x", cmd.Path, pid, st)
	}
	return nil
}

// Kill terminates every process in the tree; nothing once it is closed.
func (t *Tree) Kill() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	if err := windows.TerminateJobObject(t.job, 1); err != nil {
		return fmt.Errorf("terminating a job object: %w", err)
	}
	return nil
}

// PeakProcessMemory is the largest peak commit (private bytes) of any
// process that has been in the tree, or 0 when the job cannot be asked.
// It is Windows' nearest figure to the largest peak RSS that rusage gives
// on Unix, but counts memory committed rather than resident: paging out
// does not lower it, shared pages (the binary's) do not raise it.
func (t *Tree) PeakProcessMemory() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	if err := windows.QueryInformationJobObject(t.job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil); err != nil {
		return 0
	}
	return int64(info.PeakProcessMemoryUsed)
}

// Close closes the job, which kills what is left of the tree. A closed
// Tree's handle is never used again (its number may name another object).
func (t *Tree) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		windows.CloseHandle(t.job)
	}
}
