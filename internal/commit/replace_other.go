//go:build !windows

package commit

import "os"

// replace renames from to to, replacing to if it is there.
func replace(from, to string) error { return os.Rename(from, to) }
