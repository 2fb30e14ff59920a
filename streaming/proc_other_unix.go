//go:build unix && !linux

package streaming

import "syscall"

// childProcAttr starts the program in a process group of its own, so that
// kill reaches all of it. These systems have no Pdeathsig: a worker that is
// SIGKILLed leaves its program to see EOF on stdin and a broken stdout.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
