//go:build !linux && !darwin && !windows

package sysmem

// physical is unknown here.
func physical() (int64, bool) { return 0, false }
