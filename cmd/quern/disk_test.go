//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
)

// Disk trouble: a job whose work or output directory cannot be written, or
// whose disk fills up, fails with a message that names the path, and
// commits nothing.

func TestUnwritableDirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "16KiB")
	// A path under a regular file cannot be created, even by root.
	writeFile(t, filepath.Join(dir, "file"), "not a directory")
	for _, tc := range []struct {
		name string
		args []string
		path string
	}{
		{"tmp-dir", []string{"--tmp-dir", "file/sub", "-o", "out"}, "file/sub"},
		{"output", []string{"-o", "file/out"}, "file/out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := quern(t, dir, append([]string{"run", "wordcount", "-i", "in.txt"}, tc.args...)...)
			if r.code != 2 {
				t.Errorf("want exit status 2\n%s", r)
			}
			last := lastLine(r.stderr)
			if !strings.Contains(last, tc.path) || !strings.Contains(last, "not a directory") {
				t.Errorf("error does not name %s and why: %s", tc.path, last)
			}
			wantAbsent(t, filepath.Join(dir, "out"))
		})
	}
	wantFiles(t, dir, "file", "in.txt")
}

// TestDiskFull fills a 1 MiB tmpfs with spill runs: the error names the
// run file, and a last line says where a job writes and what to do.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := smallDisk(t, dir, "1m")
	if r := quern(t, dir, "gen", "gensort", "--size", "4MiB", "-o", "records"); r.code != 0 {
		t.Fatal(r)
	}
	// sort spills all its input, uncompressed here: 4 MiB into 1 MiB.
	r := quern(t, dir, "run", "sort", "-i", "records", "-o", "out", "--tmp-dir", small, "--spill-compression", "none", "--max-attempts", "2")
	if r.code != 1 {
		t.Errorf("want exit status 1\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) < 2 || lines[len(lines)-1] != "quern: "+diskFullAdvice {
		t.Errorf("the last line is not the advice for a full disk:\n%s", r.stderr)
	}
	errLine := lines[max(len(lines)-2, 0)]
	for _, want := range []string{"quern: job sort: task map-00000", "failed after 2 attempt(s)", "no space left on device", small + "/_quern-sort-"} {
		if !strings.Contains(errLine, want) {
			t.Errorf("error lacks %q: %s", want, errLine)
		}
	}
	// The run file is named once, not by each layer of the error.
	if n := strings.Count(errLine, small+"/_quern-sort-"); n != 1 {
		t.Errorf("the error names the spill file %d times: %s", n, errLine)
	}
	wantFailureReport(t, filepath.Join(dir, "out"))
	// The failed job removed its work directory, freeing the space.
	wantFiles(t, small)
}

// TestOutputDiskFull fills a 128 KiB tmpfs with part files in each output
// format: the error names the part file once (a Parquet or Arrow part
// that fails as it is closed was named by the writer, the reducer and the
// close), and the advice follows.
func TestOutputDiskFull(t *testing.T) {
	testenv.SkipUnderRace(t, "disk-full errors")
	t.Parallel()
	dir := t.TempDir()
	small := smallDisk(t, dir, "128k")
	// About 600 KB of word count in any format.
	genText(t, dir, "in.txt", "4MiB")
	for _, format := range []string{"text", "jsonl", "parquet", "arrow"} {
		out := filepath.Join(small, format)
		r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", out, "--output-format", format, "--max-attempts", "1", "-q")
		if r.code != 1 {
			t.Errorf("%s: want exit status 1\n%s", format, r)
			continue
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) < 2 || lines[len(lines)-1] != "quern: "+diskFullAdvice {
			t.Errorf("%s: the last line is not the advice for a full disk:\n%s", format, r.stderr)
		}
		errLine := lines[max(len(lines)-2, 0)]
		part := out + "/_temporary/reduce-0000"
		if n := strings.Count(errLine, part); n != 1 || !strings.Contains(errLine, "no space left on device") {
			t.Errorf("%s: the error names the part file %d times, want once, with the cause: %s", format, n, errLine)
		}
		wantFailureReport(t, out)
	}
}

// smallDisk mounts a tmpfs of size (tmpfs's size= option) at dir/small,
// for a test to fill, and unmounts it when the test ends. CI runs as root;
// elsewhere the test is skipped, saying why.
func smallDisk(t *testing.T, dir, size string) string {
	t.Helper()
	small := filepath.Join(dir, "small")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs of %s to fill (needs root or CAP_SYS_ADMIN): %v", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(small, 0); err != nil {
			t.Errorf("unmount %s: %v", small, err)
		}
	})
	return small
}
