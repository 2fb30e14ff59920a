package bench

import (
	"os"
	"os/exec"
)

// Windows has no process groups to kill as one nor rusage: a cancelled
// command alone is killed, and its peak RSS is not measured (0).

func ownProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func childPeakRSS(st *os.ProcessState) int64 { return 0 }
