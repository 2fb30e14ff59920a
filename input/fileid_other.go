//go:build !unix

package input

import "io/fs"

// fileID reports that this platform's fs.FileInfo carries no file identity
// (on Windows only os.SameFile can compare two files): callers fall back
// on comparing paths with links resolved.
func fileID(fs.FileInfo) (FileID, bool) { return FileID{}, false }
