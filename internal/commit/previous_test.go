package commit

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFailedOverwriteKeepsPrevious checks that a job that was to overwrite
// a finished output and fails leaves that output exactly as it was, even
// after committing a part of its own and writing its logs, and that it
// leaves no report over the previous job's _job.json.
func TestFailedOverwriteKeepsPrevious(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	before := committed(t, out)
	d, err := Open(out, Options{Overwrite: true, Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := d.AttemptDir("reduce-00000", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-00000"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CommitPart(filepath.Join(dir, "part-00000"), "part-00000"); err != nil {
		t.Fatal(err)
	}
	// What a failing driver copies there before it aborts (a pipeline's
	// failed attempts' logs) and the merged file a local job writes.
	for _, f := range []string{LogsName + "/map-00000-attempt-1.log", "merged"} {
		os.MkdirAll(filepath.Dir(filepath.Join(out, f)), 0o755)
		if err := os.WriteFile(filepath.Join(out, f), []byte("new\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, SuccessName)); err == nil {
		t.Error("while the new job runs, the output still claims to be finished")
	}
	d.Abort()
	if !d.KeptPrevious() {
		t.Error("KeptPrevious() = false after a failed overwrite")
	}
	if err := d.Report([]byte(`{"state":"failed"}`)); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if after := tree(t, out); !maps.Equal(before, after) {
		t.Errorf("a failed overwrite changed the previous output: %v → %v", keys(before), keys(after))
	}
}

// TestKilledOverwriteRecovered builds, by hand, each state a job killed
// (kill -9, a power cut) at some step of the set-aside protocol leaves,
// and checks that the next Open finds one finished output, whole: the
// previous one unless the new job committed. Open without Overwrite then
// refuses the finished output, leaving it as recovered.
func TestKilledOverwriteRecovered(t *testing.T) {
	old := map[string]string{SuccessName: "", SummaryName: "old job", "part-00000": "old a\n", "part-00001": "old b\n"}
	fresh := map[string]string{SuccessName: "", SummaryName: "new job", "part-00000": "new\n"}
	in := func(dir string, files map[string]string) map[string]string {
		m := map[string]string{}
		for name, content := range files {
			m[filepath.Join(dir, name)] = content
		}
		return m
	}
	union := func(ms ...map[string]string) map[string]string {
		m := map[string]string{}
		for _, x := range ms {
			maps.Copy(m, x)
		}
		return m
	}
	killedJob := map[string]string{TempName + "/reduce-00001-attempt-1/part-00001": "new\n", "part-00000": "new\n",
		LogsName + "/map-00000-attempt-1.log": "new\n"}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  map[string]string
	}{
		{"set-aside not begun", union(old, map[string]string{previousPartial + "/": ""}), old},
		{"set-aside cut after _SUCCESS moved", union(
			in(previousPartial, map[string]string{SuccessName: "", "part-00000": "old a\n"}),
			map[string]string{SummaryName: "old job", "part-00001": "old b\n"}), old},
		{"killed while the new job ran", union(in(PreviousName, old), killedJob), old},
		{"killed while committing", union(in(PreviousName, old), killedJob, map[string]string{SummaryName: "new job"}), old},
		{"putting back cut short", union(
			in(previousPartial, map[string]string{SuccessName: "", SummaryName: "old job"}),
			map[string]string{"part-00000": "old a\n", "part-00001": "old b\n"}), old},
		{"putting back cut before _SUCCESS", union(in(previousPartial, map[string]string{SuccessName: ""}),
			map[string]string{SummaryName: "old job", "part-00000": "old a\n", "part-00001": "old b\n"}), old},
		{"killed after the new commit", union(in(PreviousName, old), fresh), fresh},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			for name, content := range c.files {
				p := filepath.Join(out, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if name[len(name)-1] == '/' {
					continue
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Open(out, Options{Usage: errUsage})
			if !errors.Is(err, errUsage) {
				t.Fatalf("Open without Overwrite: err = %v, want the usage error of a finished output", err)
			}
			if got := tree(t, out); !maps.Equal(got, c.want) {
				t.Errorf("recovered output holds %v, want %v", got, c.want)
			}
		})
	}
}

// TestOverwriteAfterKilledOverwrite checks the user's next step after a
// killed overwrite: the same command again, with Overwrite, which finds the
// previous output put back, sets it aside again, and replaces it on commit.
func TestOverwriteAfterKilledOverwrite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	committed(t, out)
	d, err := Open(out, Options{Overwrite: true, Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := d.AttemptDir("reduce-00000", 1)
	os.WriteFile(filepath.Join(dir, "part-00000"), []byte("killed\n"), 0o644)
	if _, err := d.CommitPart(filepath.Join(dir, "part-00000"), "part-00000"); err != nil {
		t.Fatal(err)
	}
	d.Close() // the lock goes with the killed process; nothing else runs

	d, err = Open(out, Options{Overwrite: true, Usage: errUsage})
	if err != nil {
		t.Fatal(err)
	}
	job(t, d, map[string]string{"part-00000": "new\n"})
	d.Close()
	files := tree(t, out)
	if got := keys(files); !slices.Equal(got, []string{SuccessName, SummaryName, "part-00000"}) || files["part-00000"] != "new\n" {
		t.Errorf("after the second overwrite the output holds %v (part-00000 %q)", got, files["part-00000"])
	}
}
