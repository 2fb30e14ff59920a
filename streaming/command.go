package streaming

import "strings"

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
