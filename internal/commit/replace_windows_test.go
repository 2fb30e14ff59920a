package commit

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomicWhileRead: on Windows a reader of the file (here the
// test; a virus scanner, an indexer or a resuming run elsewhere) makes the
// rename that replaces it fail; WriteFileAtomic tries again, and succeeds
// once the reader has closed it.
func TestWriteFileAtomicWhileRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unit-01-state.json")
	if err := os.WriteFile(path, []byte("round 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	refused := 0
	replaceRefused = func() { refused++; reader.Close() }
	defer func() { replaceRefused = func() {} }()
	if err := WriteFileAtomic(path, []byte("round 2")); err != nil {
		t.Fatalf("replacing a file a reader had open: %v", err)
	}
	if refused == 0 {
		t.Fatal("the rename over an open file was not refused: this system does not show what the test is for")
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "round 2" {
		t.Fatalf("%s holds %q, %v; want round 2", path, got, err)
	}
}
