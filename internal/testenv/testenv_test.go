package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// skipRecorder is a testing.TB that notes a skip instead of stopping.
type skipRecorder struct {
	testing.TB
	skipped string
}

func (r *skipRecorder) Helper() {}

func (r *skipRecorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

// TestSkipUnderRace: a test is skipped in the race detector's pass only,
// saying why.
func TestSkipUnderRace(t *testing.T) {
	var r skipRecorder
	SkipUnderRace(&r, "usage errors")
	if Race != (r.skipped != "") {
		t.Fatalf("under -race %v, skipped %q", Race, r.skipped)
	}
	if Race && !strings.Contains(r.skipped, "usage errors") {
		t.Errorf("the skip does not say why: %q", r.skipped)
	}
}
