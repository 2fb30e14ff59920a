//go:build unix

package streaming

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quern-dev/quern/mapreduce"
)

// TestCheckPrograms checks which commands are refused before a job starts:
// a plain-words line whose program is not on PATH, or is a path to nothing
// (or to a folder); a relative path shipped by a file of that name, a
// relative path in the job's folder, and any line with shell syntax pass.
func TestCheckPrograms(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "here.sh"), []byte("#!/bin/sh\ncat\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(home)
	for _, c := range []struct {
		cmds Commands
		ok   bool
	}{
		{Commands{Mapper: "cat", Reducer: "sort -k1"}, true},
		{Commands{Mapper: "./here.sh"}, true},
		{Commands{Mapper: "cat", Combiner: "./shipped.py"}, false},
		{Commands{Mapper: "cat", Combiner: "./shipped.py", Files: []string{"/elsewhere/shipped.py"}}, true},
		{Commands{Mapper: "no-such-program-q9"}, false},
		{Commands{Mapper: "cat", Reducer: "/no/such/reducer"}, false},
		{Commands{Mapper: "./sub"}, false},
		{Commands{Mapper: "no-such-program-q9 | cat"}, true}, // the shell's to run
	} {
		err := CheckPrograms(c.cmds)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, mapreduce.ErrConfig) {
			t.Errorf("CheckPrograms(%+v) = %v, want ok=%v (or a config error)", c.cmds, err, c.ok)
		}
	}
}
