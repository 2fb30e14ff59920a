//go:build !linux

package hugepage

// Advised reports false: only Linux has a THP mode to ask.
func Advised() bool { return false }

// GrowHeap does nothing where the system has no transparent huge pages to
// ask for, and returns 0.
func GrowHeap(n int) int { return 0 }

// Advise does nothing and returns 0.
func Advise(b []byte) int { return 0 }
