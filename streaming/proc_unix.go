//go:build unix

package streaming

import (
	osexec "os/exec"
)

// shellCommand runs a command line with sh -c, as a shell user expects
// ("python3 map.py", "cut -f1 | uniq -c"). Where the line is one simple
// command, sh (dash, bash) replaces itself with it. guardCommand then puts
// a guard between the worker and the shell.
func shellCommand(line string) *osexec.Cmd {
	return osexec.Command("sh", "-c", line)
}

// kill kills the program's whole process tree: the guard kills the
// program's process group when its lifeline closes.
func (p *Proc) kill() { p.guard.kill() }
