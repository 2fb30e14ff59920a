//go:build unix && !linux && !darwin

package bench

import "syscall"

// maxrssUnit is the unit of ru_maxrss in bytes: KiB on the BSDs.
const maxrssUnit = 1 << 10

// dieWithParent does nothing: no Pdeathsig here. A command the suite starts
// is killed with its process group when the suite is cancelled.
func dieWithParent(attr *syscall.SysProcAttr) {}
