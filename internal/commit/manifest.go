package commit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The manifest.
//
// A finished output's _SUCCESS holds the list of the files the job
// committed, one line each: the file's name in the output directory, a
// space, and its size in bytes, in name order:
//
//	part-00000 1234
//	part-00001 998
//
// the format an object-store output's _SUCCESS has had from the start
// (objstore.WriteSuccess). Hadoop's _SUCCESS is empty, and so was Quern's:
// a part deleted or cut short after the commit (a copy of the folder
// interrupted, a file removed by hand) was read by the next job, and
// printed by quern cat, as if the output were whole. A reader checks the
// manifest with Verify. An empty _SUCCESS (a job of an older Quern, or
// made by hand) lists nothing and is not checked; a file the manifest
// does not list (added after the commit) is not its business either.

// ErrDamaged is wrapped by Verify's error for a finished output whose
// files are not those its _SUCCESS lists.
var ErrDamaged = errors.New("a file its _SUCCESS lists is missing or has another size")

// manifest returns the _SUCCESS content for the committed files paths.
func manifest(paths []string) ([]byte, error) {
	paths = slices.Sorted(slices.Values(paths))
	var b bytes.Buffer
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		fmt.Fprintf(&b, "%s %d\n", filepath.Base(p), fi.Size())
	}
	return b.Bytes(), nil
}

// Verify checks that every file the _SUCCESS manifest of the finished
// output directory dir lists is there with the size it lists. A missing
// _SUCCESS is not its concern (the caller has found one).
func Verify(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, SuccessName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, size, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil || name == "" || filepath.Base(name) != name || !IsJobFile(name) {
			// Not a manifest Quern wrote: nothing to check it against.
			return nil
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%s: %w: %s is missing", dir, ErrDamaged, name)
		case err != nil:
			return err
		case fi.Size() != n:
			return fmt.Errorf("%s: %w: %s has %d bytes, its _SUCCESS says %d", dir, ErrDamaged, name, fi.Size(), n)
		}
	}
	return nil
}
