package commit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/internal/manifest"
)

// A finished local output's _SUCCESS holds the manifest of the files its
// job committed (package manifest has the format), as an object-store
// output's always has. Hadoop's _SUCCESS is empty, and so was Quern's: a
// part deleted or cut short after the commit was read by the next job,
// and printed by quern cat, as if the output were whole. Verify is the
// check a reader makes.

// successContent returns the _SUCCESS content for the committed files
// paths.
func successContent(paths []string) ([]byte, error) {
	entries := make([]manifest.Entry, 0, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		entries = append(entries, manifest.Entry{Name: filepath.Base(p), Size: fi.Size()})
	}
	return manifest.Encode(entries), nil
}

// Verify checks that every file the _SUCCESS manifest of the finished
// output directory dir lists is there with the size it lists; its error
// for a damaged output wraps manifest.ErrDamaged. A missing _SUCCESS is
// not its concern (the caller has found one), and one that is not a
// manifest has nothing to check.
func Verify(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, SuccessName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	entries, err := manifest.Parse(data)
	if err != nil {
		return nil
	}
	return manifest.Check(dir, entries, func(name string) (int64, error) {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	})
}
