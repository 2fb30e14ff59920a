//go:build unix && !linux

package streaming

import "syscall"

// guardProcAttr: these systems have no Pdeathsig; the guard's lifeline
// tells it that its worker died.
func guardProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
