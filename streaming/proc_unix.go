//go:build unix

package streaming

import (
	osexec "os/exec"
	"strings"
)

// checksPrograms: a line of plain words runs as sh would run it, so
// CheckPrograms can find its program as the shell would.
const checksPrograms = true

// shellCommand makes the command that runs a command line. A line that is
// one simple command ("python3 mapper.py", "/usr/bin/cut -f1") runs
// directly, its words split at blanks, as Hadoop Streaming runs its
// commands; any other line ("cut -f1 | uniq -c", "python3 m.py 2>/dev/null",
// "FOO=1 ./m", a quoted argument) runs with sh -c, as a shell user expects.
// Direct saves a process per program: dash, /bin/sh on Debian, forks the
// last command of sh -c rather than replacing itself with it, and stays
// waiting (6.6 ms more CPU a start on a loaded machine, forks.py in
// session 9's notes). guardCommand then puts a guard between the worker
// and the command. env is the environment the program gets on top of the
// worker's: a PATH in it is the shell's to search.
func shellCommand(line string, env []string) *osexec.Cmd {
	if words := simpleCommand(line); words != nil && !setsPath(env) {
		if cmd := osexec.Command(words[0], words[1:]...); cmd.Err == nil {
			return cmd
		}
		// Not found, or found only in the current directory: the
		// shell says so in its own words ("sh: 1: x: not found").
	}
	return osexec.Command("sh", "-c", line)
}

// setsPath reports whether env (NAME=value entries) sets PATH.
func setsPath(env []string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return true
		}
	}
	return false
}

// kill kills the program's whole process tree: the guard kills the
// program's process group when its lifeline closes.
func (p *Proc) kill() { p.guard.kill() }
