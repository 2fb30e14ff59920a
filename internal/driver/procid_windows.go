package driver

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/windows"
)

// processID is "PID STARTTIME" for a live process, STARTTIME being its
// creation time from GetProcessTimes (100 ns units since 1601).
func processID(pid int) (string, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	const stillActive = 259 // STILL_ACTIVE
	if code != stillActive {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	start := int64(created.HighDateTime)<<32 | int64(created.LowDateTime)
	return strconv.Itoa(pid) + " " + strconv.FormatInt(start, 10), nil
}
