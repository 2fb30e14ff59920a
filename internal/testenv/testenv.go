// Package testenv tells tests what this system can do, so that a test of
// something the system lacks is skipped, with the reason, rather than
// failing or passing without testing it (as Go's own internal/testenv does
// for its tests).
package testenv

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

// Symlink makes newname a symbolic link to oldname, or skips the test when
// this system cannot make one: Windows refuses an account without the
// symbolic-link privilege (Developer Mode off), and Wine 8.0's
// CreateSymbolicLinkW is a stub that reports success and creates nothing
// (then even Lstat finds no newname). Any other error fails the test.
func Symlink(t testing.TB, oldname, newname string) {
	t.Helper()
	if err := os.Symlink(oldname, newname); err != nil {
		if privilegeNotHeld(err) {
			t.Skipf("cannot test symbolic links: this account may not create them (%v)", err)
		}
		t.Fatal(err)
	}
	if _, err := os.Lstat(newname); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("cannot test symbolic links: os.Symlink(%q, %q) reported success but created nothing "+
			"(Wine 8.0's CreateSymbolicLinkW is a stub)", oldname, newname)
	}
}
