//go:build !windows

package testenv

// privilegeNotHeld: only Windows makes symbolic links a privilege.
func privilegeNotHeld(error) bool { return false }
