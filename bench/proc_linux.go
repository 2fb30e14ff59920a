package bench

import "syscall"

// maxrssUnit is the unit of ru_maxrss in bytes: KiB on Linux.
const maxrssUnit = 1 << 10

func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
