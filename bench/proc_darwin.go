package bench

import "syscall"

// maxrssUnit is the unit of ru_maxrss in bytes: bytes on macOS.
const maxrssUnit = 1

// dieWithParent does nothing: macOS has no Pdeathsig. A command the suite
// starts is killed with its process group when the suite is cancelled.
func dieWithParent(attr *syscall.SysProcAttr) {}
