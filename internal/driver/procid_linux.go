package driver

import (
	"fmt"
	"strconv"

	"github.com/quern-dev/quern/internal/procstat"
)

// processID is "PID STARTTIME" for a live process, STARTTIME being field 22
// of /proc/PID/stat (clock ticks since boot). A zombie, a process that has
// ended but that its parent has not waited for yet, is not live: a driver
// killed under a parent that never waits (a container's first process that
// is no init) stays one for good, and its work directory, spills and all,
// would never be cleaned.
func processID(pid int) (string, error) {
	fields, err := procstat.Fields(pid)
	if err != nil {
		return "", err
	}
	// starttime is field 22 of the file, the 20th after the name.
	if len(fields) < 20 {
		return "", fmt.Errorf("short /proc/%d/stat", pid)
	}
	if procstat.Exited(fields[0]) {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	return strconv.Itoa(pid) + " " + fields[19], nil
}
