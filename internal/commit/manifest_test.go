package commit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quern-dev/quern/internal/manifest"
)

// TestManifest: _SUCCESS lists the committed parts with their sizes, and
// Verify holds for the output as committed, fails for a part removed or
// cut short afterwards, and has nothing to check in an empty _SUCCESS or
// against a file added afterwards.
func TestManifest(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d, err := Open(out, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	job(t, d, map[string]string{"part-00001": "bb\n", "part-00000": "a\n"})
	d.Close()
	if got := tree(t, out)[SuccessName]; got != "part-00000 2\npart-00001 3\n" {
		t.Fatalf("_SUCCESS = %q, want the parts in name order with their sizes", got)
	}
	if err := Verify(out); err != nil {
		t.Fatalf("Verify of the output as committed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(out, "part-00002"), []byte("added\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(out); err != nil {
		t.Errorf("Verify with a file added after the commit: %v", err)
	}
	for _, tc := range []struct {
		name   string
		damage func(part string) error
		want   string
	}{
		{"cut short", func(p string) error { return os.Truncate(p, 1) }, "part-00001 has 1 bytes, its _SUCCESS says 3"},
		{"removed", os.Remove, "part-00001 is missing"},
	} {
		if err := tc.damage(filepath.Join(out, "part-00001")); err != nil {
			t.Fatal(err)
		}
		err := Verify(out)
		if !errors.Is(err, manifest.ErrDamaged) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), out) {
			t.Errorf("%s: Verify = %v, want manifest.ErrDamaged naming %s and saying %q", tc.name, err, out, tc.want)
		}
	}
	// An older Quern's (or Hadoop's) empty _SUCCESS lists nothing.
	if err := os.WriteFile(filepath.Join(out, SuccessName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(out); err != nil {
		t.Errorf("Verify with an empty _SUCCESS: %v", err)
	}
}
