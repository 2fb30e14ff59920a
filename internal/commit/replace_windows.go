package commit

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// replace renames from to to, replacing to if it is there. Windows refuses
// to replace (or remove) a file that another process holds open without
// FILE_SHARE_DELETE, which is how Go, most programs, virus scanners and
// the search indexer open files: the rename fails with ERROR_ACCESS_DENIED
// or ERROR_SHARING_VIOLATION while a reader has it. Readers hold a file
// briefly, so replace tries again for up to replaceFor, as the go command
// does for the same reason (cmd/go/internal/robustio).
func replace(from, to string) error {
	deadline := time.Now().Add(replaceFor)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := os.Rename(from, to)
		if err == nil || !heldOpen(err) || time.Now().After(deadline) {
			return err
		}
		replaceRefused()
		time.Sleep(delay)
	}
}

const replaceFor = 2 * time.Second

// replaceRefused is called after each refused rename; a test hook.
var replaceRefused = func() {}

// heldOpen reports whether err is Windows' refusal to rename over a file
// that is open.
func heldOpen(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)
}
