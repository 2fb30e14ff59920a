package exec

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows: the control pipes reach the worker as inherited handles, whose
// numbers it finds in QUERN_PIPES; every worker is put in one Job Object
// that kills its processes when the driver's handle to it closes, which
// Windows does when the driver exits, however it exits; a worker also
// waits on the driver's process handle (watchDriver), for the moment
// between its start and its joining the job. Peak RSS is the process's
// PeakWorkingSetSize.

func platformStartError() error { return nil }

// sysProcAttr is how the pool starts a worker.
func sysProcAttr() *syscall.SysProcAttr {
	// Own process group: Windows does not deliver Ctrl-C to a new process
	// group, so the driver, not the console, decides how workers stop, as
	// with Setpgid on Unix.
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// passPipes hands the worker's ends of the control pipes to cmd: the child
// inherits these two handles (os/exec passes no others but its standard
// ones) and learns their numbers from the environment.
func passPipes(cmd *osexec.Cmd, ctlR, resW *os.File) {
	cmd.SysProcAttr.AdditionalInheritedHandles = []syscall.Handle{syscall.Handle(ctlR.Fd()), syscall.Handle(resW.Fd())}
	// Clip: the pool's environment is shared by all its workers.
	cmd.Env = append(slices.Clip(cmd.Env), fmt.Sprintf("%s=%d,%d", envPipes, ctlR.Fd(), resW.Fd()))
}

// pipeHandles parses QUERN_PIPES.
func pipeHandles() (ctl, res windows.Handle, ok bool) {
	a, b, found := strings.Cut(os.Getenv(envPipes), ",")
	if !found {
		return 0, 0, false
	}
	c, err1 := strconv.ParseUint(a, 10, 64)
	r, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return windows.Handle(c), windows.Handle(r), true
}

// havePipes reports whether the control pipes are open in this process.
func havePipes() bool {
	ctl, res, ok := pipeHandles()
	return ok && isPipe(ctl) && isPipe(res)
}

func isPipe(h windows.Handle) bool {
	t, err := windows.GetFileType(h)
	return err == nil && t == windows.FILE_TYPE_PIPE
}

// openPipes returns the worker's ends of the control pipes as files.
func openPipes() (in, out *os.File, err error) {
	ctl, res, ok := pipeHandles()
	if !ok {
		return nil, nil, fmt.Errorf("%s=%q: want two handle numbers", envPipes, os.Getenv(envPipes))
	}
	// Processes that a handler starts must not inherit the control pipes:
	// a grandchild holding the result pipe would hide this worker's death
	// from the driver. (os/exec passes only listed handles anyway; this
	// covers other ways of starting processes.)
	for _, h := range []windows.Handle{ctl, res} {
		if err := windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0); err != nil {
			return nil, nil, fmt.Errorf("control pipe handle %d: %w", h, err)
		}
	}
	return os.NewFile(uintptr(ctl), "quern-control"), os.NewFile(uintptr(res), "quern-result"), nil
}

// workerJob is the Job Object of every worker this process starts. It is
// never closed: Windows closes it when the driver exits, and then kills the
// workers (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE), as Pdeathsig does on Linux.
var workerJob = sync.OnceValues(func() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("creating a job object for the workers: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("setting the workers' job object to kill them with the driver: %w", err)
	}
	return job, nil
})

// adopt puts a started worker in the workers' job, so that it dies with the
// driver.
func adopt(p *os.Process) error {
	job, err := workerJob()
	if err != nil {
		return err
	}
	// The pid cannot have been reused: cmd holds a handle to the process
	// until it is waited for.
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		return fmt.Errorf("opening worker pid %d: %w", p.Pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		return fmt.Errorf("putting worker pid %d in the workers' job object: %w", p.Pid, err)
	}
	return nil
}

// signalName is "" on Windows: a process has no signals, only an exit
// status (1 when TerminateProcess, os.Process.Kill, ended it).
func signalName(st *os.ProcessState) string { return "" }

// driverPid is the driver's pid as the pool passed it, or 0.
func driverPid() int {
	pid, _ := strconv.Atoi(os.Getenv(envDriverPid))
	return pid
}

// watchDriver calls gone when the driver has exited, until stop is called.
// The job object kills a worker with its driver once the worker is in it;
// this covers a driver that dies before that.
func watchDriver(driver int, gone func()) (stop func()) {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(driver))
	if err != nil {
		if errors.Is(err, windows.ERROR_INVALID_PARAMETER) { // no such process
			go gone()
		}
		return func() {}
	}
	// A process whose pid was reused after the driver died started after
	// this one; the driver started before it.
	if !startedBefore(h, windows.CurrentProcess()) {
		windows.CloseHandle(h)
		go gone()
		return func() {}
	}
	quit, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(h)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer windows.CloseHandle(h)
		defer windows.CloseHandle(quit)
		ev, err := windows.WaitForMultipleObjects([]windows.Handle{h, quit}, false, windows.INFINITE)
		if err == nil && ev == windows.WAIT_OBJECT_0 {
			gone()
		}
	}()
	return func() {
		windows.SetEvent(quit)
		<-done
	}
}

// startedBefore reports whether process a was created before process b;
// true when that cannot be told, so that a doubt never ends a worker.
func startedBefore(a, b windows.Handle) bool {
	var ca, cb, exit, kernel, user windows.Filetime
	if windows.GetProcessTimes(a, &ca, &exit, &kernel, &user) != nil ||
		windows.GetProcessTimes(b, &cb, &exit, &kernel, &user) != nil {
		return true
	}
	return ca.Nanoseconds() <= cb.Nanoseconds()
}

// processMemoryCounters is PROCESS_MEMORY_COUNTERS (psapi.h).
type processMemoryCounters struct {
	cb                         uint32
	PageFaultCount             uint32
	PeakWorkingSetSize         uintptr
	WorkingSetSize             uintptr
	QuotaPeakPagedPoolUsage    uintptr
	QuotaPagedPoolUsage        uintptr
	QuotaPeakNonPagedPoolUsage uintptr
	QuotaNonPagedPoolUsage     uintptr
	PagefileUsage              uintptr
	PeakPagefileUsage          uintptr
}

// getProcessMemoryInfo is GetProcessMemoryInfo, which kernel32 exports as
// K32GetProcessMemoryInfo (golang.org/x/sys/windows does not wrap it).
var getProcessMemoryInfo = windows.NewLazySystemDLL("kernel32.dll").NewProc("K32GetProcessMemoryInfo")

// peakRSS returns this process's peak working set in bytes, the Windows
// counterpart of peak RSS, or 0 when that is unavailable.
func peakRSS() int64 {
	var c processMemoryCounters
	c.cb = uint32(unsafe.Sizeof(c))
	if getProcessMemoryInfo.Find() != nil {
		return 0
	}
	ok, _, _ := getProcessMemoryInfo.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&c)), uintptr(c.cb))
	if ok == 0 {
		return 0
	}
	return int64(c.PeakWorkingSetSize)
}
