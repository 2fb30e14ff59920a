package streaming

import "syscall"

// guardProcAttr: the guard also hears of its worker's death from Linux
// (Pdeathsig), as SIGTERM, which it handles by killing the program's
// group. Pdeathsig fires when the thread that started the child exits; Go's
// runtime keeps its threads unless a goroutine locked to one exits, which
// Quern's task goroutines do not. The lifeline covers every other case.
func guardProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
