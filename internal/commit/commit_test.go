package commit

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
)

var errUsage = errors.New("usage")

// tree returns the relative paths of the files under dir, separated by
// "/", with their content; directories are listed with a trailing "/".
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel) // the tests' paths, on Windows too
		if e.IsDir() {
			files[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// job runs a whole job through d: one attempt per part writes its file and
// commits it, then Commit.
func job(t *testing.T, d *Dir, parts map[string]string) {
	t.Helper()
	for name, content := range parts {
		dir, err := d.AttemptDir("reduce-"+name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := d.CommitPart(filepath.Join(dir, name), name); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Commit([]byte(`{"state":"succeeded"}`), nil); err != nil {
		t.Fatal(err)
	}
}

// committed makes out a committed output of one job, and returns its files.
func committed(t *testing.T, out string) map[string]string {
	t.Helper()
	d, err := Open(out, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	job(t, d, map[string]string{"part-00000": "old a\n", "part-00001": "old b\n"})
	d.Close()
	files := tree(t, out)
	if want := []string{"_SUCCESS", "_job.json", "part-00000", "part-00001"}; !slices.Equal(keys(files), want) {
		t.Fatalf("a committed output holds %v, want %v", keys(files), want)
	}
	return files
}

// TestCommittedOutputKept checks that a committed output survives a second
// job on the same directory that is refused (no Overwrite), and a job on
// another directory that fails: Abort removes only what its own job
// committed.
func TestCommittedOutputKept(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "out")
	before := committed(t, out)

	_, err := Open(out, Options{Usage: errUsage})
	if !errors.Is(err, errUsage) {
		t.Fatalf("Open of a committed output without Overwrite: err = %v, want a usage error", err)
	}
	if after := tree(t, out); !maps.Equal(before, after) {
		t.Errorf("a refused Open changed the committed output: %v → %v", keys(before), keys(after))
	}

	// A job in a folder next to it fails after committing one part.
	other := filepath.Join(root, "other")
	d, err := Open(other, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := d.AttemptDir("reduce-00000", 1)
	os.WriteFile(filepath.Join(dir, "part-00000"), []byte("new\n"), 0o644)
	if _, err := d.CommitPart(filepath.Join(dir, "part-00000"), "part-00000"); err != nil {
		t.Fatal(err)
	}
	d.Abort()
	d.Close()
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Abort left the directory it created: %v", err)
	}
	if after := tree(t, out); !maps.Equal(before, after) {
		t.Errorf("a failed job elsewhere changed the committed output: %v", keys(after))
	}
}

// TestUnfinishedJobTakenOver checks that a directory holding only what a
// job that never committed leaves (a killed job's _temporary, a failed
// job's report and logs) is taken by the next run without Overwrite, as a
// user re-running the same command after kill -9 expects, while one
// holding a part (a job killed while committing) is still refused, whole.
func TestUnfinishedJobTakenOver(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   []string
		refused bool
	}{
		{"killed while mapping", []string{TempName + "/map-00003-1/run-0"}, false},
		{"killed, logs kept", []string{TempName + "/reduce-00000-2/part-00000", LogsName + "/map-00000-1.log"}, false},
		{"failure report", []string{SummaryName, LogsName + "/map-00000-1.log"}, false},
		{"killed while committing", []string{TempName + "/reduce-00001-1/part-00001", "part-00000"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			for _, f := range c.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(out, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(out, f), []byte("x\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := tree(t, out)
			d, err := Open(out, Options{Usage: errUsage})
			if c.refused {
				if !errors.Is(err, errUsage) {
					t.Fatalf("Open: err = %v, want a usage error", err)
				}
				if after := tree(t, out); !maps.Equal(before, after) {
					t.Errorf("a refused Open changed the folder: %v → %v", keys(before), keys(after))
				}
				return
			}
			if err != nil {
				t.Fatalf("Open of a folder holding %v: %v", c.files, err)
			}
			defer d.Close()
			if got := keys(tree(t, out)); !slices.Equal(got, []string{TempName + "/"}) {
				t.Errorf("after Open the output holds %v, want only an empty %s", got, TempName)
			}
		})
	}
}

// TestOverwrite checks that Overwrite sets a previous job's output aside,
// _SUCCESS included, before the new job writes, and that the new job's
// commit removes it; that it keeps the directory itself
// (also when the output is a symlink to it), and that a directory holding
// a file no job wrote is refused even with Overwrite, and left whole.
func TestOverwrite(t *testing.T) {
	for _, viaLink := range []bool{false, true} {
		name := "directory"
		if viaLink {
			name = "symbolic link to it"
		}
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			real := filepath.Join(root, "real")
			committed(t, real)
			out := real
			if viaLink {
				out = filepath.Join(root, "link")
				testenv.Symlink(t, real, out)
			}
			d, err := Open(out, Options{Overwrite: true, Usage: errUsage})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{PreviousName + "/", PreviousName + "/_SUCCESS", PreviousName + "/_job.json",
				PreviousName + "/part-00000", PreviousName + "/part-00001", TempName + "/"}
			if got := keys(tree(t, real)); !slices.Equal(got, want) {
				t.Errorf("after Open with Overwrite the output holds %v, want %v", got, want)
			}
			job(t, d, map[string]string{"part-00000": "new\n"})
			d.Close()
			if fi, err := os.Lstat(out); viaLink && (err != nil || fi.Mode()&os.ModeSymlink == 0) {
				t.Errorf("the symlinked output is no longer a symlink: %v, %v", fi, err)
			}
			files := tree(t, real)
			if got := keys(files); !slices.Equal(got, []string{"_SUCCESS", "_job.json", "part-00000"}) || files["part-00000"] != "new\n" {
				t.Errorf("after an overwriting job the output holds %v (part-00000 %q)", got, files["part-00000"])
			}

			if err := os.WriteFile(filepath.Join(real, "notes.txt"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tree(t, real)
			if _, err := Open(out, Options{Overwrite: true, Usage: errUsage}); !errors.Is(err, errUsage) {
				t.Fatalf("Overwrite of a folder holding notes.txt: err = %v, want a usage error", err)
			}
			if after := tree(t, real); !maps.Equal(before, after) {
				t.Errorf("a refused Overwrite changed the folder: %v → %v", keys(before), keys(after))
			}
		})
	}
}

// TestSuccessLast checks the order of Commit: _temporary is gone and
// _job.json is in place before the commit point is written (the publish
// hook, for an object store, or the local _SUCCESS), and a Commit that
// fails before it (here _job.json cannot be written) leaves no _SUCCESS.
func TestSuccessLast(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d, err := Open(out, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	published := false
	err = d.Commit([]byte("{}"), func() error {
		published = true
		files := tree(t, out)
		if _, ok := files[SummaryName]; !ok {
			t.Errorf("publish ran before %s was written: %v", SummaryName, keys(files))
		}
		if _, ok := files[TempName+"/"]; ok {
			t.Errorf("publish ran before %s was removed", TempName)
		}
		return errors.New("upload failed")
	})
	d.Close()
	if !published || err == nil || err.Error() != "upload failed" {
		t.Errorf("Commit with a failing publish: published %v, err = %v", published, err)
	}
	if _, err := os.Stat(filepath.Join(out, SuccessName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a local _SUCCESS was written as well as the publish hook's: %v", err)
	}

	out2 := filepath.Join(t.TempDir(), "out")
	d, err = Open(out2, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A directory where _job.json goes makes its rename fail.
	if err := os.MkdirAll(filepath.Join(out2, SummaryName, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit([]byte("{}"), nil); err == nil {
		t.Fatal("Commit succeeded though _job.json could not be written")
	}
	if _, err := os.Stat(filepath.Join(out2, SuccessName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("_SUCCESS written though _job.json failed: %v", err)
	}
}

// TestLosingAttemptNeverCommitted runs two attempts of one task (a
// speculative backup): the one that commits its part wins, and the
// loser's file, still under _temporary, is in no committed output.
func TestLosingAttemptNeverCommitted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d, err := Open(out, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var written []string
	for attempt, content := range []string{"winner\n", "loser\n"} {
		dir, err := d.AttemptDir("reduce-00000", attempt+1)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "part-00000")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		written = append(written, p)
	}
	if _, err := d.CommitPart(written[0], "part-00000"); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit([]byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	files := tree(t, out)
	if got := keys(files); !slices.Equal(got, []string{"_SUCCESS", "_job.json", "part-00000"}) {
		t.Errorf("the committed output holds %v", got)
	}
	if files["part-00000"] != "winner\n" {
		t.Errorf("part-00000 = %q, want the committing attempt's", files["part-00000"])
	}
}

// TestOneJobPerDirectory checks the lock: a second Open of a directory a
// job holds is refused, naming it, until the holder closes it.
func TestOneJobPerDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d, err := Open(out, Options{Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(out, Options{Overwrite: true, Usage: errUsage})
	if !errors.Is(err, errUsage) {
		t.Fatalf("second Open of a held directory: err = %v, want a usage error", err)
	}
	if _, err := os.Stat(d.Temp()); err != nil {
		t.Errorf("the refused Open touched the holder's %s: %v", TempName, err)
	}
	d.Close()
	d2, err := Open(out, Options{Overwrite: true, Usage: errUsage})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	d2.Close()
}

// TestAbortWhileAttemptsWrite checks that Abort leaves no _temporary behind
// while attempts that were not stopped (a Beam runner's abandoned bundles,
// which stop at their next element, not at once) still create files in it:
// os.RemoveAll alone fails "directory not empty" when a file appears while
// it empties the directory, and the directory stays with the late file.
func TestAbortWhileAttemptsWrite(t *testing.T) {
	for round := range 20 {
		out := filepath.Join(t.TempDir(), "out")
		d, err := Open(out, Options{Usage: errUsage})
		if err != nil {
			t.Fatal(err)
		}
		// Files already there, so that the removal takes a while.
		for i := range 200 {
			if err := os.WriteFile(filepath.Join(d.Temp(), fmt.Sprintf("early-%d", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		stop := make(chan struct{})
		writing := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				if i == 10 {
					close(writing)
				}
				select {
				case <-stop:
					return
				default:
				}
				// Errors are expected once the directory is gone.
				os.WriteFile(filepath.Join(d.Temp(), fmt.Sprintf("late-%d", i)), nil, 0o644)
			}
		}()
		<-writing
		d.Abort()
		close(stop)
		<-done
		d.Close()
		if _, err := os.Stat(d.Temp()); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: Abort left %s behind (%v): %v", round, d.Temp(), err, keys(tree(t, out)))
		}
		// The job made out, so Abort removes it, empty.
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: Abort left %s (%v): %v", round, out, err, keys(tree(t, out)))
		}
	}
}
