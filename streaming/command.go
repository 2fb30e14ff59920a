package streaming

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"

	"github.com/quern-dev/quern/mapreduce"
)

// A command line of plain words is one the shell would run as one program
// with those words as its arguments. On Unix such a line runs directly,
// not through sh -c (shellCommand, proc_unix.go), and on every system the
// files its words name are linked into the task's working folder
// (commandFiles, task.go): it has no redirection, so no word names a file
// the program is made to write.

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

// CheckPrograms returns an error naming the first command whose program
// cannot be found, before a job starts: otherwise every attempt of every
// task fails "not found" and is retried to the end. Only a line of plain
// words is checked (simpleCommand), the way it will run: its first word,
// if it is a path, must be a file, relative paths taken from the folder
// the job runs in (commandFiles links them into the task's folder) or
// shipped by a file of that name; any other first word must be on PATH.
// A line with shell syntax is the shell's to run, and Windows' cmd has
// builtins of its own, so neither is checked (checksPrograms).
func CheckPrograms(c Commands) error {
	if !checksPrograms {
		return nil
	}
	shipped := map[string]bool{}
	for _, f := range c.Files {
		shipped[filepath.Base(f)] = true
	}
	for _, cmd := range []struct{ role, line string }{{ParamMapper, c.Mapper}, {ParamCombiner, c.Combiner}, {ParamReducer, c.Reducer}} {
		words := simpleCommand(cmd.line)
		if words == nil {
			continue
		}
		prog := words[0]
		var err error
		switch {
		case !strings.Contains(prog, "/"):
			_, err = osexec.LookPath(prog)
		case !filepath.IsAbs(prog) && shipped[filepath.Clean(prog)]:
		default:
			var fi os.FileInfo
			if fi, err = os.Stat(prog); err == nil && fi.IsDir() {
				err = errors.New("is a directory")
			}
		}
		if err != nil {
			return fmt.Errorf("%w: --%s %q: %s cannot be run: %v", mapreduce.ErrConfig, cmd.role, cmd.line, prog, err)
		}
	}
	return nil
}
