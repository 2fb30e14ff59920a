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

// SkipUnderRace skips a test in the race detector's pass (.ci/run runs
// go test -race over the packages whose code runs goroutines side by side,
// after go test's plain pass over every package). It is for a test whose
// subject is not concurrency (a usage error, an input's shape, a file
// format), which runs nothing under the detector that the package's other
// tests do not, and which the plain pass runs anyway: under the detector it
// took minutes of CI's time. why says what the test is about.
func SkipUnderRace(t testing.TB, why string) {
	t.Helper()
	if Race {
		t.Skipf("run by go test's plain pass, not under -race: %s, not concurrency", why)
	}
}
