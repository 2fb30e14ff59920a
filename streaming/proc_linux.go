package streaming

import "syscall"

// childProcAttr starts the program in a process group of its own (so that
// kill reaches all of it and a Ctrl-C at the terminal reaches only the
// driver, which stops the workers, which stop their programs), and asks
// Linux to SIGKILL it when its worker dies, even by SIGKILL (a task
// timeout, a crash): no user program outlives its worker. Pdeathsig fires
// when the thread that started the child exits; Go's runtime keeps its
// threads unless a goroutine locked to one exits, which Quern's task
// goroutines do not.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
