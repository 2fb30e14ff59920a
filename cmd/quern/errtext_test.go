package main

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// TestMessage: a missing or forbidden path reads the same whichever system
// call met it and however the platform words it; other errors, and a path
// error reworded by a wrapper, read as they are.
func TestMessage(t *testing.T) {
	other := errors.New("Incorrect function.")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unix missing", fmt.Errorf("input: argument %q: %w", "nope.txt", &fs.PathError{Op: "stat", Path: "nope.txt", Err: fs.ErrNotExist}),
			`input: argument "nope.txt": no such file or directory: nope.txt`},
		{"windows missing", fmt.Errorf("cat: %w", &fs.PathError{Op: "GetFileAttributesEx", Path: `C:\data\nope.txt`, Err: fs.ErrNotExist}),
			`cat: no such file or directory: C:\data\nope.txt`},
		{"forbidden", fmt.Errorf("job history %s: %w", "out", &fs.PathError{Op: "open", Path: `out\_job.json`, Err: fs.ErrPermission}),
			`job history out: permission denied: out\_job.json`},
		{"other path error", fmt.Errorf("x: %w", &fs.PathError{Op: "remove", Path: "a", Err: other}),
			"x: remove a: Incorrect function."},
		{"reworded by a wrapper", fmt.Errorf("x: %v", &fs.PathError{Op: "stat", Path: "a", Err: fs.ErrNotExist}),
			"x: stat a: file does not exist"},
		{"no path error", errors.New("no app named \"x\""), `no app named "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := message(tc.err); got != tc.want {
				t.Errorf("message = %q, want %q", got, tc.want)
			}
		})
	}
}
