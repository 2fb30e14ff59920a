//go:build unix

package streaming

import (
	osexec "os/exec"
	"strings"
)

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

// simpleCommand returns the words of a line that the shell would run as
// one command with those words as its arguments, or nil: the line has only
// blanks and characters that no shell treats specially, and its first word
// is neither an assignment nor one of the shell's keywords or builtins,
// which would mean something else run directly (echo -e, cd, exec).
func simpleCommand(line string) []string {
	for i := 0; i < len(line); i++ {
		if !plainByte(line[i]) && line[i] != ' ' && line[i] != '\t' {
			return nil
		}
	}
	words := strings.Fields(line)
	if len(words) == 0 || strings.Contains(words[0], "=") || shellWords[words[0]] {
		return nil
	}
	return words
}

// plainByte reports whether c stands for itself wherever it is in a word
// of sh: letters, digits and _-./:,+=@% (a '=' in a first word is an
// assignment, which simpleCommand rules out).
func plainByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_-./:,+=@%", c) >= 0
}

// shellWords are dash's and bash's reserved words and builtins: as a
// first word, each means the shell's own, not a program on PATH.
var shellWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`case do done elif else esac fi for function if in select then
		time until while alias bg break builtin cd chdir command continue declare echo eval
		exec exit export false fc fg getopts hash jobs kill let local logout printf pwd read
		readonly return set shift source test times trap true type typeset ulimit umask
		unalias unset wait`) {
		shellWords[w] = true
	}
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
