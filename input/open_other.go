//go:build !unix

package input

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// openFile is os.Open; see open_unix.go.
func openFile(path string) (*os.File, error) { return os.Open(path) }

// fdState is never called here: uring.ReadFiles reads nothing on these
// systems.
func fdState(int, string) (fileState, error) { return fileState{}, errors.ErrUnsupported }

// openSmall is os.Open; see open_unix.go.
func openSmall(path string) (lineFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// sniffFile is sniffFile of open_unix.go, through an *os.File.
func sniffFile(path string, fi fs.FileInfo) (head []byte, edges uint64, id FileID, haveID bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, FileID{}, false, err
	}
	head = make([]byte, headSize)
	n, err := io.ReadFull(f, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	head = head[:n]
	if err == nil {
		edges = sniffedEdges(f, head, fi.Size())
	}
	id, haveID = openID(f, fi)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, FileID{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	return head, edges, id, haveID, nil
}

// mayRead is false: without Unix permission bits, Expand opens every file
// to learn whether it can be read (see ExpandOptions.GuessUpTo).
func mayRead(fs.FileInfo) bool { return false }
