//go:build unix

package streaming

import (
	osexec "os/exec"
	"syscall"
)

// shellCommand runs a command line with sh -c, as a shell user expects
// ("python3 map.py", "cut -f1 | uniq -c"). Where the line is one simple
// command, sh (dash, bash) replaces itself with it, so the program is the
// worker's own child.
func shellCommand(line string) *osexec.Cmd {
	return osexec.Command("sh", "-c", line)
}

// kill kills the program's process group, so that the processes a shell
// line started (a pipeline's stages) go with it.
func (p *Proc) kill() {
	if p.reaped.Load() {
		return // its pid may be another process's by now
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}
