//go:build unix && !linux && !darwin

package driver

import (
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

// processID is "PID" for a live process: these systems have no start time
// that is cheap to read, so a work directory whose driver's pid was reused
// by another process is kept until that process ends too (never removed
// wrongly).
func processID(pid int) (string, error) {
	// Signal 0 checks existence; EPERM means it exists as another user's.
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	return strconv.Itoa(pid), nil
}
