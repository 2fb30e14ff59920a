// Package lockfile gives a process sole use of a path for as long as it
// lives: an advisory lock (flock on unix, LockFileEx on Windows) on a small
// file. The kernel drops the lock when the holder exits, however it exits,
// so a killed process never leaves a lock that blocks the next one; the
// file itself stays behind then, and the next Acquire reuses it. Release
// removes it.
//
// The lock file holds the holder's pid, for the message a loser prints.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrLocked is wrapped by Acquire's error when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock is a held lock.
type Lock struct {
	path string
	f    *os.File
}

// Acquire takes the lock at path, creating the file if need be. When
// another process holds it, the error wraps ErrLocked and names that
// process's pid when known. It waits only for a lock that frees within a
// few milliseconds: another process's Held takes a free lock for as long
// as its check, and a lock held for that instant is not another holder.
func Acquire(path string) (*Lock, error) {
	for attempt := 0; ; attempt++ {
		l, err := tryAcquire(path)
		if errors.Is(err, ErrLocked) && waitForProbe(attempt) {
			continue
		}
		return l, err
	}
}

// waitForProbe sleeps before another attempt of Acquire, and reports
// false when there is to be none: about 60 ms in all, thousands of times
// the length of a Held check, even on a loaded machine. Tests replace it.
var waitForProbe = func(attempt int) bool {
	if attempt >= 6 {
		return false
	}
	time.Sleep(time.Millisecond << attempt)
	return true
}

func tryAcquire(path string) (*Lock, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := tryLock(f); err != nil {
			f.Close()
			if errors.Is(err, errWouldBlock) {
				holder, _ := os.ReadFile(path)
				if pid := strings.TrimSpace(string(holder)); pid != "" {
					return nil, fmt.Errorf("lock %s: %w (pid %s)", path, ErrLocked, pid)
				}
				return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder we waited out may have removed the file (Release)
		// between our open and our lock: then we hold a lock on a file
		// nobody else can find, and must lock the one at path instead.
		if same(f, path) {
			l := &Lock{path: path, f: f}
			if err := l.writePid(); err != nil {
				l.Release()
				return nil, err
			}
			return l, nil
		}
		f.Close()
	}
}

func (l *Lock) writePid() error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	if _, err := l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	return nil
}

// same reports whether f is still the file at path.
func same(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Held reports whether a process holds the lock at path, taking it for no
// longer than the check (which Acquire waits out). The error is the
// open's (fs.ErrNotExist when there is no lock file), the lock's where the
// file system takes none (ENOLCK, ENOTSUP), or errors.ErrUnsupported where
// this platform has no file locks: then nothing tells a held lock from a
// free one.
func Held(path string) (bool, error) {
	if !enforced {
		return false, fmt.Errorf("lock %s: %w", path, errors.ErrUnsupported)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close() // drops the lock, if the check took it
	switch err := tryLock(f); {
	case errors.Is(err, errWouldBlock):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	return false, nil
}

// Release removes the lock file and drops the lock, so that a lock file
// left free is one whose holder was killed (or, on Windows, one that
// another process opened in the instant between the two: see release).
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	release(l.f, l.path)
	l.f = nil
}
