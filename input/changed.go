package input

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// ChangedError is the error of a reader that finds its file no longer what
// [Expand] found when the job was planned: truncated, appended to,
// rewritten in place (a new modification time) or replaced by another file
// (a new device or inode, as a rename over it gives; on Windows the volume
// and file index). The plan's splits
// were cut from the old file, so reading on would give an answer that
// matches neither version. Every attempt would fail the same way: the job
// must be run again.
//
// A change that keeps the size, the modification time (to the file
// system's precision) and the inode cannot be seen.
type ChangedError struct {
	Path string
	// Change says what differs, e.g. "size 123 → 456".
	Change string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("input file %s changed since the job was planned (%s); run the job again", e.Path, e.Change)
}

// changed compares fi, a fresh stat of f's file, and its FileID id (if
// haveID) with what Expand recorded, and returns the error for a
// difference.
func (f File) changed(fi fs.FileInfo, id FileID, haveID bool) error {
	return f.changedTo(fi.Size(), fi.ModTime(), id, haveID)
}

// changedTo is changed for a stat's size and modification time.
func (f File) changedTo(size int64, modTime time.Time, id FileID, haveID bool) error {
	if f.ModTime.IsZero() {
		return nil // not recorded: a File made by hand
	}
	var what []string
	if size != f.Size {
		what = append(what, fmt.Sprintf("size %d → %d", f.Size, size))
	}
	if !modTime.Equal(f.ModTime) {
		what = append(what, fmt.Sprintf("modified %s → %s",
			f.ModTime.UTC().Format(time.RFC3339Nano), modTime.UTC().Format(time.RFC3339Nano)))
	}
	if haveID && f.ID != (FileID{}) && id != f.ID {
		what = append(what, fmt.Sprintf("replaced: inode %d → %d", f.ID.Inode, id.Inode))
	}
	if what == nil {
		return nil
	}
	return &ChangedError{Path: f.Path, Change: strings.Join(what, ", ")}
}

// openUnchanged opens the file of s and checks that it is still the file
// that was planned.
func openUnchanged(s Split) (*os.File, error) {
	f, err := openFile(s.File.Path)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	if err := checkUnchanged(f, s); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkUnchanged checks that the open file f of s is still the file that
// was planned: by the descriptor, so that a file replaced after it was
// opened is still the one compared.
func checkUnchanged(f *os.File, s Split) error {
	if s.File.ModTime.IsZero() {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("input: split %v: %w", s, err)
	}
	id, haveID := openID(f, fi)
	return s.File.changed(fi, id, haveID)
}

// checkPath checks, by its path, that the file of s is still the file that
// was planned, for readers that open the file themselves.
func checkPath(s Split) error {
	if s.File.ModTime.IsZero() {
		return nil
	}
	fi, err := os.Stat(s.File.Path)
	if err != nil {
		return fmt.Errorf("input: split %v: %w", s, err)
	}
	id, haveID := statID(s.File.Path, fi)
	return s.File.changed(fi, id, haveID)
}
