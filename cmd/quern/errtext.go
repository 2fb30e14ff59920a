package main

import (
	"errors"
	"io/fs"
	"strings"
)

// message is err's text for the user. The operating system words a missing
// or forbidden path its own way and names the system call that met it:
// "stat nope.txt: no such file or directory" on Linux, "GetFileAttributesEx
// nope.txt: The system cannot find the file specified." on Windows. Quern
// says those two the same way everywhere ("no such file or directory:
// nope.txt", "permission denied: PATH"), so that its messages, docs and
// tests do not depend on the platform; any other error reads as it is.
func message(err error) string {
	msg := err.Error()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return msg
	}
	var plain string
	switch {
	case errors.Is(pe.Err, fs.ErrNotExist):
		plain = "no such file or directory: " + pe.Path
	case errors.Is(pe.Err, fs.ErrPermission):
		plain = "permission denied: " + pe.Path
	default:
		return msg
	}
	// The path error's text is in msg unless a wrapper reworded it
	// (wrapped with %v, not %w); then msg stays as it is.
	return strings.Replace(msg, pe.Error(), plain, 1)
}
