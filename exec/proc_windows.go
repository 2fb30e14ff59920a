package exec

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"syscall"
)

// Windows: worker processes are not supported yet (no inherited fd 3/4, no
// process groups as on Unix); StartPool returns ErrUnsupported and
// mapreduce falls back to its inline engine.

// Supported reports whether this platform can run worker processes.
const Supported = false

var errPlatform = fmt.Errorf("exec: worker processes are not supported on windows yet; run tasks in-process (the inline engine): %w", errors.ErrUnsupported)

func platformStartError() error { return errPlatform }

func passPipes(cmd *osexec.Cmd, ctlR, resW *os.File) {}

func havePipes() bool { return false }

func openPipes() (in, out *os.File, err error) { return nil, nil, errPlatform }

func signalName(st *os.ProcessState) string { return "" }

func sysProcAttr() *syscall.SysProcAttr { return nil }

func driverPid() int { return 0 }

func watchDriver(driver int, gone func()) (stop func()) { return func() {} }

func peakRSS() int64 { return 0 }
