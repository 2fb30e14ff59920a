package streaming

import (
	"os"
	"syscall"

	"github.com/quern-dev/quern/exec"
)

// guardProcAttr: the guard also hears of its worker's death from Linux
// (Pdeathsig), as SIGTERM, which it handles by killing the program's
// group. Pdeathsig fires when the thread that started the child exits; Go's
// runtime keeps its threads unless a goroutine locked to one exits, which
// Quern's task goroutines do not. The lifeline covers every other case, and
// is all there is where exec.NoPdeathsigEnv turns Pdeathsig off (tests of
// the path macOS and the BSDs take).
func guardProcAttr() *syscall.SysProcAttr {
	if os.Getenv(exec.NoPdeathsigEnv) == "1" {
		return &syscall.SysProcAttr{}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
