package exec_test

import (
	"fmt"
	"os"
	osexec "os/exec"
	"testing"
	"time"

	"github.com/quern-dev/quern/exec"
)

func init() {
	platformHelpers["job-parent"] = helperJobParent
	platformHelpers["sleeper"] = func() {
		time.Sleep(time.Minute)
		os.Exit(1)
	}
}

// TestJobKillsWorkers checks the job object on its own, without the pipe
// EOF and the watcher that also end a worker whose driver died: a process
// that only sleeps, put in the workers' job by its parent, dies when that
// parent is killed.
func TestJobKillsWorkers(t *testing.T) {
	killParentOfChild(t, "a process in the job outlived its parent", envPlatformHelper+"=job-parent")
}

// helperJobParent starts a sleeper, puts it in the workers' job, prints its
// pid and blocks until killed.
func helperJobParent() {
	cmd := osexec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envPlatformHelper+"=sleeper")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "helper job parent:", err)
		os.Exit(1)
	}
	if err := exec.Adopt(cmd.Process); err != nil {
		fmt.Fprintln(os.Stderr, "helper job parent:", err)
		cmd.Process.Kill()
		os.Exit(1)
	}
	fmt.Println(cmd.Process.Pid)
	time.Sleep(time.Minute)
	os.Exit(1)
}
