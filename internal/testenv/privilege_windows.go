package testenv

import (
	"errors"

	"golang.org/x/sys/windows"
)

// privilegeNotHeld reports whether err is Windows' refusal to let this
// account create symbolic links.
func privilegeNotHeld(err error) bool { return errors.Is(err, windows.ERROR_PRIVILEGE_NOT_HELD) }
