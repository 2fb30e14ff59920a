package input

import (
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// ChangedError is the error of a reader that finds its file no longer what
// [Expand] found when the job was planned: truncated, rewritten in place
// (a new modification time) or replaced by another file (a new device or
// inode, as a rename over it gives; on Windows the volume and file index).
// The plan's splits were cut from the old file, so reading on would give
// an answer that matches neither version. Every attempt would fail the
// same way: the job must be run again.
//
// A file read by lines that was only appended to, as a log being written
// is, is no such change: it is read as planned (see [LineReader.Grown]).
//
// A change that keeps the size, the modification time (to the file
// system's precision) and the inode cannot be seen.
//
// A file removed since the plan is a ChangedError too ("removed").
type ChangedError struct {
	Path string
	// Change says what differs, e.g. "size 123 → 456", or "removed".
	Change string
	// settled is set for a change no later look can find undone (see
	// ErrChanged).
	settled bool
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("input file %s %v (%s); run the job again", e.Path, ErrChanged, e.Change)
}

// Is makes a settled ChangedError match [ErrChanged].
func (e *ChangedError) Is(target error) bool { return target == ErrChanged && e.settled }

// ErrChanged is matched (errors.Is) by a [ChangedError] that no attempt can
// find undone, so that a map task refuses its input at once rather than
// read its splits again four times: a file removed, replaced by another,
// shorter than planned, or longer and not only appended to. A file whose
// size is as planned and whose modification time is not may be a log in
// the instant of an append, which sets the time before the size: its error
// does not match, and the attempt is retried, when the append shows.
//
// Its text is in every ChangedError's, so that where only the text of an
// error arrives (a Beam runner passes a worker's error on as text) it is
// known for an input problem; there the runner has already retried.
var ErrChanged = errors.New("changed since the job was planned")

// openError is the error of opening the file of s, planned: a settled
// ChangedError if the file is gone, since a file the plan found and that
// is no more has changed as much as a file can.
func openError(s Split, err error) error {
	if errors.Is(err, fs.ErrNotExist) && !s.File.ModTime.IsZero() {
		return &ChangedError{Path: s.File.Path, Change: "removed", settled: true}
	}
	return fmt.Errorf("input: open split %v: %w", s, err)
}

// fileState is what a stat of a file says that ChangedError compares.
type fileState struct {
	size    int64
	modTime time.Time
	id      FileID
	haveID  bool // id could be had
}

// stateOf is the fileState of a stat, fi, and the FileID it gave.
func stateOf(fi fs.FileInfo, id FileID, haveID bool) fileState {
	return fileState{size: fi.Size(), modTime: fi.ModTime(), id: id, haveID: haveID}
}

// changedTo compares st, a fresh stat of f's file, with what Expand
// recorded, and returns the error for a difference.
func (f File) changedTo(st fileState) error {
	if f.ModTime.IsZero() {
		return nil // not recorded: a File made by hand
	}
	var what []string
	if st.size != f.Size {
		what = append(what, fmt.Sprintf("size %d → %d", f.Size, st.size))
	}
	if !st.modTime.Equal(f.ModTime) {
		what = append(what, fmt.Sprintf("modified %s → %s",
			f.ModTime.UTC().Format(time.RFC3339Nano), st.modTime.UTC().Format(time.RFC3339Nano)))
	}
	if f.replacedBy(st) {
		what = append(what, fmt.Sprintf("replaced: inode %d → %d", f.ID.Inode, st.id.Inode))
	}
	if what == nil {
		return nil
	}
	return &ChangedError{Path: f.Path, Change: strings.Join(what, ", "), settled: st.size != f.Size || f.replacedBy(st)}
}

// replacedBy reports whether st is a stat of another file than the one
// Expand found, as far as the IDs tell.
func (f File) replacedBy(st fileState) bool {
	return st.haveID && f.ID != (FileID{}) && st.id != f.ID
}

// openUnchanged opens the file of s and checks that it is still the file
// that was planned.
func openUnchanged(s Split) (*os.File, error) {
	f, err := openFile(s.File.Path)
	if err != nil {
		return nil, openError(s, err)
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
	st, err := osFile{f}.state()
	if err != nil {
		return fmt.Errorf("input: split %v: %w", s, err)
	}
	return s.File.changedTo(st)
}

// checkPath checks, by its path, that the file of s is still the file that
// was planned, for readers that open the file themselves.
func checkPath(s Split) error {
	if s.File.ModTime.IsZero() {
		return nil
	}
	fi, err := os.Stat(s.File.Path)
	if err != nil {
		return openError(s, err)
	}
	id, haveID := statID(s.File.Path, fi)
	return s.File.changedTo(stateOf(fi, id, haveID))
}

// Files that grow while a job reads them.
//
// A log being written grows while the job runs; were that a ChangedError, no
// job could read a live log. Hadoop's and Spark's line readers read such a
// file to the length their plan took; so does a LineReader: the lines that
// start before the planned size, the last of them finished from the bytes
// past it that its last read brought, as the last line of any split is
// finished past the split's end. What must not pass for growth is a file
// rewritten in place (truncated, then written again past its old size): read
// as planned, its splits would mix two versions. So Expand records a
// checksum of the first and last bytes of each plain file it opens
// (File.EdgeSum), and a reader that finds its file larger checks them:
// appending leaves them as they were, a rewrite in all likelihood does not.
// A small file that Expand named without opening it
// (ExpandOptions.GuessUpTo) has no checksum; it is one split, read by one
// task, so its lines come from one version of it whatever happened.

// checkLines is the check of a file read by lines (LineReader): that the
// open file f of s is still the one planned, as checkUnchanged checks,
// except that a plain file that only grew passes, and grown says so.
func checkLines(f lineFile, s Split) (grown bool, err error) {
	if s.File.ModTime.IsZero() {
		return false, nil
	}
	st, err := f.state()
	if err != nil {
		return false, fmt.Errorf("input: split %v: %w", s, err)
	}
	if s.File.Compression != None || st.size <= s.File.Size || s.File.replacedBy(st) {
		return false, s.File.changedTo(st)
	}
	if s.File.EdgeSum == 0 {
		if s.Start == 0 && s.End >= s.File.Size {
			return true, nil // one split: one version
		}
		return false, s.File.changedTo(st)
	}
	sum, err := readEdgeSum(f, s.File.Size)
	if err != nil {
		return false, fmt.Errorf("input: split %v: %w", s, err)
	}
	if sum != s.File.EdgeSum {
		return false, &ChangedError{Path: s.File.Path, settled: true, Change: fmt.Sprintf(
			"size %d → %d, and its first or last %d bytes as planned differ: rewritten, not appended to", s.File.Size, st.size, headSize)}
	}
	return true, nil
}

// edgeTable is the CRC of File.EdgeSum.
var edgeTable = crc64.MakeTable(crc64.ECMA)

// edgeSum is File.EdgeSum of a file whose first bytes (headSize of them,
// or all) are head and whose last bytes are tail: the last headSize bytes
// that are not in head (readTail). It is never 0, which means none.
func edgeSum(head, tail []byte) uint64 {
	return max(1, crc64.Update(crc64.Checksum(head, edgeTable), edgeTable, tail))
}

// readTail reads the tail of a file of size bytes that edgeSum takes:
// from max(headSize, size-headSize) to size, nothing for a file of at
// most headSize bytes. A file now shorter than size is an error.
func readTail(r io.ReaderAt, size int64) ([]byte, error) {
	from := max(headSize, size-headSize)
	if from >= size {
		return nil, nil
	}
	tail := make([]byte, size-from)
	if n, err := r.ReadAt(tail, from); n < len(tail) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return tail, nil
}

// sniffedEdges is the edgeSum of the file r of size bytes (a stat's),
// whose first bytes, head, Expand has read, or 0 if r is no longer size
// bytes long: the reader will see that as a change anyway.
func sniffedEdges(r io.ReaderAt, head []byte, size int64) uint64 {
	if int64(len(head)) != min(size, headSize) {
		return 0
	}
	tail, err := readTail(r, size)
	if err != nil {
		return 0
	}
	return edgeSum(head, tail)
}

// readEdgeSum is the edgeSum of the first size bytes of r.
func readEdgeSum(r io.ReaderAt, size int64) (uint64, error) {
	head := make([]byte, min(size, headSize))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	tail, err := readTail(r, size)
	if err != nil {
		return 0, err
	}
	return edgeSum(head, tail), nil
}
