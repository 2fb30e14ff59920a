package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSymlink: where Symlink returns, the link exists and leads to its
// target (a system where it cannot skips this test, which is what Symlink
// is for).
func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.txt"), filepath.Join(dir, "link.txt")
	if err := os.WriteFile(target, []byte("through the link\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Symlink(t, target, link)
	got, err := os.ReadFile(link)
	if err != nil || string(got) != "through the link\n" {
		t.Fatalf("reading %s: %q, %v; want the target's text", link, got, err)
	}
}
