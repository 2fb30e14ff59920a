package totalsort

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Report is what Validate finds, as valsort reports it.
type Report struct {
	Records    int64
	Duplicates int64 // records whose key equals the previous record's
	// Checksum is the sum of the CRC-32C of every record (with its line
	// ending): independent of order, so an input and its sorted output
	// have the same checksum.
	Checksum uint64
	// FirstUnordered is the 1-based record number of the first record
	// that sorts before its predecessor, or 0.
	FirstUnordered int64
	UnorderedFile  string
}

// Ordered reports whether every record was in order.
func (r Report) Ordered() bool { return r.FirstUnordered == 0 }

func (r Report) String() string {
	s := fmt.Sprintf("records: %d\nchecksum: %016x\nduplicate keys: %d\n", r.Records, r.Checksum, r.Duplicates)
	if r.Ordered() {
		return s + "SUCCESS - all records are in order\n"
	}
	return s + fmt.Sprintf("FAILURE - record %d (in %s) is out of order\n", r.FirstUnordered, r.UnorderedFile)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// LooksGensort reports whether the first record of path (a file, or a
// directory's first part file) is a gensort -a record: IsGensort, ending
// in CRLF. It is how validate-sort's --records auto decides.
func LooksGensort(path string) (bool, error) {
	files, err := sortedFiles([]string{path})
	if err != nil {
		return false, err
	}
	f, err := os.Open(files[0])
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 4096).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return false, fmt.Errorf("validate-sort: %s: %w", files[0], err)
	}
	return len(line) == RecordSize && IsGensort(line[:lineSize]) && string(line[lineSize:]) == "\r\n", nil
}

// Validate reads the given files in order (a directory stands for its
// part-* files in name order) and checks that their records are in global
// order. gensort selects 100-byte records compared by their 10-byte key;
// otherwise lines compare whole.
func Validate(paths []string, gensort bool) (Report, error) {
	files, err := sortedFiles(paths)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	var prev []byte
	for _, path := range files {
		if err := validateFile(path, gensort, &rep, &prev); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// sortedFiles is paths with each directory replaced by its part files, in
// name order.
func sortedFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		parts, err := filepath.Glob(filepath.Join(p, "part-*"))
		if err != nil {
			return nil, err
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("validate-sort: no part files in %s", p)
		}
		sort.Strings(parts)
		files = append(files, parts...)
	}
	return files, nil
}

func validateFile(path string, gensort bool, rep *Report, prev *[]byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("validate-sort: %s: line longer than 1 MiB after record %d", path, rep.Records)
		}
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("validate-sort: %s: %w", path, err)
		}
		rep.Records++
		rep.Checksum += uint64(crc32.Checksum(line, castagnoli))
		key := bytes.TrimRight(line, "\r\n")
		if gensort {
			if len(line) != RecordSize {
				return fmt.Errorf("validate-sort: %s: record %d is %d bytes, want %d", path, rep.Records, len(line), RecordSize)
			}
			key = line[:KeySize]
		}
		if rep.Records > 1 {
			switch c := bytes.Compare(*prev, key); {
			case c == 0:
				rep.Duplicates++
			case c > 0 && rep.FirstUnordered == 0:
				rep.FirstUnordered, rep.UnorderedFile = rep.Records, path
			}
		}
		*prev = append((*prev)[:0], key...)
		if err == io.EOF {
			return nil
		}
	}
}
