package driver

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// processID is "PID STARTTIME" for a live process, STARTTIME being field 22
// of /proc/PID/stat (clock ticks since boot). A zombie, a process that has
// ended but that its parent has not waited for yet, is not live: a driver
// killed under a parent that never waits (a container's first process that
// is no init) stays one for good, and its work directory, spills and all,
// would never be cleaned.
func processID(pid int) (string, error) {
	fields, err := procStat(pid)
	if err != nil {
		return "", err
	}
	// starttime is field 22 of the file, the 20th after the name.
	if len(fields) < 20 {
		return "", fmt.Errorf("short /proc/%d/stat", pid)
	}
	if state := fields[0]; state == "Z" || state == "X" {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	return strconv.Itoa(pid) + " " + fields[19], nil
}

// procStat returns the fields of /proc/PID/stat after the command name,
// the first being the process's state. The name may hold spaces and
// parentheses; the fields resume after the last ')'.
func procStat(pid int) ([]string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])), nil
}
