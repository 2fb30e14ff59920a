package exec

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"syscall"
)

// Linux: workers are killed by the kernel when the driver dies (Pdeathsig),
// and peak RSS is VmHWM from /proc/self/status.

// NoPdeathsigEnv, set to 1 in the driver's environment, makes the pool start
// workers without Pdeathsig and the workers (which inherit the variable)
// watch their parent by polling getppid, as on platforms without Pdeathsig;
// a Streaming program's guard then goes by its lifeline alone. It lets
// Linux tests exercise the portable path, which is all macOS has.
const NoPdeathsigEnv = "QUERN_NO_PDEATHSIG"

func pdeathsig() bool { return os.Getenv(NoPdeathsigEnv) != "1" }

// sysProcAttr is how the pool starts a worker.
func sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		// Own process group: Ctrl-C at a terminal signals the foreground
		// group, and the driver, not the kernel, decides how workers stop.
		Setpgid: true,
	}
	if pdeathsig() {
		// Die with the driver, even if it is SIGKILLed. This fires when the
		// thread that forked the child exits; see Pool.spawner.
		attr.Pdeathsig = syscall.SIGKILL
	}
	return attr
}

// watchDriver calls gone when the driver has died. With Pdeathsig the kernel
// kills the worker first, so there is nothing to watch.
func watchDriver(driver int, gone func()) (stop func()) {
	if pdeathsig() {
		return func() {}
	}
	return pollParent(driver, gone)
}

// peakRSS returns this process's peak resident set size in bytes, from the
// VmHWM line of /proc/self/status, or 0 when that is unavailable. Not
// getrusage: Linux carries the pre-exec high-water mark of the forking
// process into the child's ru_maxrss, so a worker would seem at least as
// large as its driver was.
func peakRSS() int64 {
	var buf [4096]byte
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	n, _ := io.ReadFull(f, buf[:])
	f.Close()
	return parseVmHWM(buf[:n])
}

func parseVmHWM(status []byte) int64 {
	i := bytes.Index(status, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	line := status[i+len("VmHWM:"):]
	if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	line = bytes.TrimSpace(line)
	line = bytes.TrimSuffix(line, []byte("kB"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
