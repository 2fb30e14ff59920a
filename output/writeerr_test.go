package output

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// TestWriteErrNamesTheFileOnce: a failed write of a part file names the
// file once, whether the system's error names it (a full disk) or not.
func TestWriteErrNamesTheFileOnce(t *testing.T) {
	const path = "out/_temporary/reduce-00000-attempt-1/part-00000"
	for _, err := range []error{
		&fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC},
		errors.New("short write"),
	} {
		got := writeErr(path, "record 7", err).Error()
		if strings.Count(got, path) != 1 || !strings.Contains(got, "record 7") || !errors.Is(writeErr(path, "record 7", err), err) {
			t.Errorf("writeErr(%v) = %q, want the file named once, the record, and the error wrapped", err, got)
		}
	}
}
