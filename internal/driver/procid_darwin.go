package driver

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// processID is "PID STARTTIME" for a live process, STARTTIME being the
// process's start time from sysctl kern.proc.pid, in microseconds since the
// epoch. sysctl fails for a pid that does not exist.
func processID(pid int) (string, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	if int(kp.Proc.P_pid) != pid {
		return "", fmt.Errorf("process %d: not found", pid)
	}
	// A zombie has ended; see procid_linux.go.
	const zombie = 5 // SZOMB, <sys/proc.h>
	if kp.Proc.P_stat == zombie {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	st := kp.Proc.P_starttime
	return strconv.Itoa(pid) + " " + strconv.FormatInt(int64(st.Sec)*1e6+int64(st.Usec), 10), nil
}
