package input

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quern-dev/quern/internal/pathfmt"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/objstore"
)

// mkfiles creates dir/name for each name with contents of len(name) bytes
// (names ending in "/" are directories) and returns dir.
func mkfiles(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rel returns the paths of files relative to dir, for comparison.
func rel(t *testing.T, dir string, files []File) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		r, err := filepath.Rel(dir, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(r)) // the wants are written with /
	}
	return out
}

// wantExpand checks that Expand(args) finds exactly want, paths relative
// to dir written with /, and returns the files.
func wantExpand(t *testing.T, dir string, args, want []string) []File {
	t.Helper()
	files, err := Expand(args)
	if err != nil {
		t.Fatal(err)
	}
	if got := rel(t, dir, files); !slices.Equal(got, want) {
		t.Fatalf("Expand(%q) = %q, want %q", args, got, want)
	}
	return files
}

func TestExpand(t *testing.T) {
	dir := mkfiles(t,
		"b.txt", "a.txt", "c.log.gz", "d.zst", "e.ZSTD", "_SUCCESS", ".hidden", "_logs/x.txt",
		"sub/deep.txt", "sub/_skip.txt", "empty/", "g1/x.txt", "g2/y.txt", "g3/",
	)
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"file", []string{j("a.txt")}, []string{"a.txt"}},
		{"underscore file named explicitly", []string{j("_SUCCESS")}, []string{"_SUCCESS"}},
		{"dir is recursive and skips hidden", []string{dir}, []string{"a.txt", "b.txt", "c.log.gz", "d.zst", "e.ZSTD", "g1/x.txt", "g2/y.txt", "sub/deep.txt"}},
		{"dir with trailing slash", []string{dir + "/sub/"}, []string{"sub/deep.txt"}},
		{"glob", []string{j("*.txt")}, []string{"a.txt", "b.txt"}},
		{"glob skips hidden matches", []string{j("*S*")}, []string{"e.ZSTD"}},
		{"glob over dirs expands them", []string{j("g*")}, []string{"g1/x.txt", "g2/y.txt"}},
		{"char class", []string{j("[ab].txt")}, []string{"a.txt", "b.txt"}},
		{"duplicates removed", []string{j("a.txt"), dir, j("*.txt"), j("./a.txt")}, []string{"a.txt", "b.txt", "c.log.gz", "d.zst", "e.ZSTD", "g1/x.txt", "g2/y.txt", "sub/deep.txt"}},
		{"sorted across args", []string{j("sub"), j("b.txt"), j("a.txt")}, []string{"a.txt", "b.txt", "sub/deep.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := wantExpand(t, dir, tc.args, tc.want)
			for _, f := range files {
				// mkfiles writes each file's relative name as its content.
				r, _ := filepath.Rel(dir, f.Path)
				if f.Size != int64(len(r)) {
					t.Errorf("%s: Size %d, want %d", f.Path, f.Size, len(r))
				}
				// The content is text, whatever the name says.
				if f.Compression != None {
					t.Errorf("%s: Compression %v, want none", f.Path, f.Compression)
				}
			}
		})
	}
}

func TestCompressionOf(t *testing.T) {
	for path, want := range map[string]Compression{
		"a.txt": None, "a": None, "a.gz": Gzip, "a.tar.GZ": Gzip, "a.zst": Zstd, "a.zstd": Zstd,
		"gz": None, "a.gzip": None, "dir.gz/a": None,
	} {
		if got := CompressionOf(path); got != want {
			t.Errorf("CompressionOf(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	dir := mkfiles(t, "a.txt", "empty/", "hidden-only/_SUCCESS", "hidden-only/.x", "onlydirs/sub/", "links/ok.txt")
	j := func(p string) string { return filepath.Join(dir, p) }
	haveFifo := mkfifo(t, j("fifo")) // false where there are none (Windows)
	for _, tc := range []struct {
		name string
		args []string
		is   error
		arg  string // the argument the message must name
		link string // made in the case: a symbolic link to nowhere
	}{
		{"no args", nil, ErrNoInput, "", ""},
		{"missing path", []string{j("a.txt"), j("missing.txt")}, fs.ErrNotExist, j("missing.txt"), ""},
		{"empty dir", []string{j("empty")}, ErrNoInput, j("empty"), ""},
		{"dir of hidden files only", []string{j("hidden-only")}, ErrNoInput, j("hidden-only"), ""},
		{"dir of dirs only", []string{j("onlydirs")}, ErrNoInput, j("onlydirs"), ""},
		{"glob without match", []string{j("*.csv")}, ErrNoInput, j("*.csv"), ""},
		{"glob matching only empty dirs", []string{j("empt?")}, ErrNoInput, j("empt?"), ""},
		{"bad glob", []string{j("[a")}, filepath.ErrBadPattern, j("[a"), ""},
		{"dangling link named", []string{j("dangling")}, fs.ErrNotExist, j("dangling"), j("dangling")},
		{"dangling link in dir", []string{j("links")}, fs.ErrNotExist, j("links"), j("links/dangling.txt")},
		{"fifo", []string{j("fifo")}, ErrNotRegular, j("fifo") + " is a pipe", ""},
		// "-" is no file here, and says what to do instead.
		{"standard input", []string{"-"}, ErrNotRegular, `argument "-": standard input cannot be an input`, ""},
		// Quoted, or after --input=, ~ reaches Quern unexpanded.
		{"unexpanded tilde", []string{"~/quern-test-missing.txt"}, fs.ErrNotExist, "the shell did not expand ~", ""},
		{"fifo by glob", []string{j("f*")}, ErrNotRegular, j("f*"), ""},
		// The walk goes on past a file the checker refuses; the error is
		// still the first argument's, as when files were checked in turn.
		{"fifo before a missing path", []string{j("f*"), j("missing.txt")}, ErrNotRegular, j("f*"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "fifo") && !haveFifo {
				t.Skip("this system has no FIFOs")
			}
			if tc.link != "" {
				testenv.Symlink(t, j("nowhere"), tc.link)
			}
			files, err := Expand(tc.args)
			if err == nil {
				t.Fatalf("Expand(%q) = %v, want an error", tc.args, files)
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("Expand(%q) error %q does not wrap %v", tc.args, err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.arg) {
				t.Fatalf("Expand(%q) error %q does not name %q", tc.args, err, tc.arg)
			}
		})
	}
}

// TestExpandUnreadable makes a file mode 000. Root can still open it, so
// the expectation is what os.Open says here: Expand must fail exactly when
// the file cannot be opened, and then name it.
func TestExpandUnreadable(t *testing.T) {
	dir := mkfiles(t, "locked.txt")
	p := filepath.Join(dir, "locked.txt")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	f, openErr := os.Open(p)
	if openErr == nil {
		f.Close()
	}
	for _, arg := range []string{p, dir} {
		files, err := Expand([]string{arg})
		switch {
		case openErr != nil && !errors.Is(err, fs.ErrPermission):
			t.Fatalf("Expand(%q) = %v, %v; want a permission error", arg, files, err)
		case openErr != nil && !strings.Contains(err.Error(), arg):
			t.Fatalf("Expand(%q) error %q does not name the argument", arg, err)
		case openErr == nil && (err != nil || len(files) != 1 || files[0].Path != p):
			t.Fatalf("Expand(%q) = %v, %v; want [%s] (the file is readable here)", arg, files, err, p)
		}
	}
}

// TestExpandSkipsMergedCopy reads a finished job's output folder (it holds
// _SUCCESS) as its part files only: the merged file that --merge writes
// beside them holds the same records again, and reading both counted every
// record twice when one job's output fed the next. A merged file outside
// such a folder, or named on its own, is read.
func TestExpandSkipsMergedCopy(t *testing.T) {
	dir := mkfiles(t,
		"out/_SUCCESS", "out/_job.json", "out/part-00000", "out/part-00001", "out/merged.txt",
		"bare/_SUCCESS", "bare/part-00000", "bare/merged",
		"notjob/merged.txt", "notjob/a.txt",
	)
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"job output", []string{j("out")}, []string{"out/part-00000", "out/part-00001"}},
		{"merged without extension", []string{j("bare")}, []string{"bare/part-00000"}},
		{"folder of outputs", []string{dir}, []string{"bare/part-00000", "notjob/a.txt", "notjob/merged.txt", "out/part-00000", "out/part-00001"}},
		{"merged named", []string{j("out/merged.txt")}, []string{"out/merged.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantExpand(t, dir, tc.args, tc.want) })
	}

	m := &memStore{objects: map[string][]byte{}}
	for _, k := range []string{"out/_SUCCESS", "out/part-00000", "out/merged.txt", "other/merged.txt"} {
		m.objects[k] = []byte(k + "\n")
	}
	objstore.Register("memmerged", func(context.Context, string) (objstore.Store, error) { return m, nil })
	files, err := Expand([]string{"memmerged://b/"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	if want := []string{"memmerged://b/other/merged.txt", "memmerged://b/out/part-00000"}; !slices.Equal(got, want) {
		t.Fatalf("objects: %q, want %q", got, want)
	}
}

// TestAsLines: CSV and TSV files are read as Text for a job that reads
// lines; every other format, and the caller's slice, stay as they were.
func TestAsLines(t *testing.T) {
	files := []File{
		{Path: "a.csv", Format: CSV}, {Path: "b.tsv.gz", Format: TSV}, {Path: "c.jsonl", Format: JSONL},
		{Path: "d.parquet", Format: Parquet}, {Path: "e.txt", Format: Text}, {Path: "f.arrow", Format: Arrow},
	}
	got := AsLines(files)
	var formats []Format
	for _, f := range got {
		formats = append(formats, f.Format)
	}
	if want := []Format{Text, Text, JSONL, Parquet, Text, Arrow}; !slices.Equal(formats, want) {
		t.Errorf("formats %v, want %v", formats, want)
	}
	if files[0].Format != CSV || files[1].Format != TSV {
		t.Errorf("the caller's files changed: %v", files[:2])
	}
	if none := files[2:]; &AsLines(none)[0] != &none[0] {
		t.Error("a copy made with nothing to change")
	}
}

// TestExpandWarnsOfNestedOutput: a finished job's output folder found
// inside a folder being read is read (a folder of outputs is how many jobs'
// answers are combined) but said, since an output kept inside its own input
// folder is otherwise read again as input by the next run, silently. An
// output named itself, or matched by a glob, is no surprise; nor is an
// unfinished folder, or a finished one with nothing left to read.
func TestExpandWarnsOfNestedOutput(t *testing.T) {
	dir := mkfiles(t,
		"data/a.txt", "data/out/_SUCCESS", "data/out/part-00000", "data/out/part-00001",
		"data/tmp/part-00000", // no _SUCCESS: not a finished output
		"data/empty/_SUCCESS", // finished, nothing to read
	)
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		name string
		args []string
		want []string // the folders warned of, relative to dir
	}{
		{"folder holding an output", []string{j("data")}, []string{"data/out"}},
		{"the output itself", []string{j("data/out")}, nil},
		{"glob", []string{j("data/*")}, nil},
		{"named twice", []string{j("data"), j("data")}, []string{"data/out", "data/out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warned []string
			files, err := ExpandWith(tc.args, ExpandOptions{Warn: func(w string) { warned = append(warned, w) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatal("no files")
			}
			if len(warned) != len(tc.want) {
				t.Fatalf("warnings %q, want one for each of %q", warned, tc.want)
			}
			for i, w := range warned {
				folder := pathfmt.Quote(filepath.Join(dir, tc.want[i]))
				if !strings.Contains(w, folder) || !strings.Contains(w, "2 more input files") {
					t.Errorf("warning %q does not name %s and its 2 files", w, folder)
				}
			}
		})
	}
	// A folder of many outputs, read on purpose, gets one line.
	many := mkfiles(t,
		"runs/d1/_SUCCESS", "runs/d1/part-00000", "runs/d2/_SUCCESS", "runs/d2/part-00000",
		"runs/d3/_SUCCESS", "runs/d3/part-00000", "runs/d4/_SUCCESS", "runs/d4/part-00000",
		"runs/d5/_SUCCESS", "runs/d5/part-00000",
		"runs/d5/inner/_SUCCESS", "runs/d5/inner/part-00000", // counted with d5, once
	)
	var warned []string
	if _, err := ExpandWith([]string{filepath.Join(many, "runs")}, ExpandOptions{Warn: func(w string) { warned = append(warned, w) }}); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "5 outputs of finished jobs") || !strings.Contains(warned[0], "and 2 more") ||
		!strings.Contains(warned[0], pathfmt.Quote(filepath.Join(many, "runs", "d1"))) || !strings.Contains(warned[0], "as 6 more input files") {
		t.Fatalf("warnings %q, want one naming 3 of the 5 outputs and their 6 files", warned)
	}

	// Expand, without Warn, reads the same files and says nothing.
	wantExpand(t, dir, []string{j("data")}, []string{"data/a.txt", "data/out/part-00000", "data/out/part-00001", "data/tmp/part-00000"})
}

// TestExpandRefusesUnfinishedOutput: a folder read as input that is the
// output of a job still writing it, or stopped while it did (no _SUCCESS,
// but _temporary, --overwrite's _previous, or a _job.json beside parts), is
// refused, named, however it is reached; its files named by a glob are
// read, and a failed job's report folder (nothing to read) or a folder of
// parts without any bookkeeping (copied from elsewhere) is no refusal.
func TestExpandRefusesUnfinishedOutput(t *testing.T) {
	dir := mkfiles(t,
		"data/a.txt",
		"data/running/_temporary/reduce-00001-attempt-1/part-00001", "data/running/part-00000",
		"overwriting/_previous/_SUCCESS", "overwriting/_previous/part-00000", "overwriting/_temporary/x", "overwriting/part-00000",
		"committing/_job.json", "committing/part-00000",
		"reports/b.txt", "reports/failed/_job.json", "reports/failed/_logs/map-00000-attempt-1.log",
		"copied/part-00000", "copied/part-00001",
	)
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		args   []string
		refuse string // the folder named, or "" to read the files
	}{
		{[]string{j("data")}, "data/running"},
		{[]string{j("data/running")}, "data/running"},
		{[]string{j("data/*")}, "data/running"},
		{[]string{j("overwriting")}, "overwriting"},
		{[]string{j("committing")}, "committing"},
		{[]string{j("data/running/part-*")}, ""},
		{[]string{j("reports"), j("copied")}, ""},
	} {
		_, err := Expand(tc.args)
		if tc.refuse == "" {
			if err != nil {
				t.Errorf("Expand(%q): %v", tc.args, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnfinishedOutput) || !strings.Contains(err.Error(), pathfmt.Quote(j(tc.refuse))+" ") {
			t.Errorf("Expand(%q): err = %v, want ErrUnfinishedOutput naming %s", tc.args, err, tc.refuse)
		}
	}
}

// TestExpandRefusesDamagedOutput: a finished output whose _SUCCESS lists
// a part that is gone or of another size (a copy of the folder cut short)
// is refused, named, whether it is the argument or found below it; its
// remaining parts are read when named, and an empty _SUCCESS (an older
// Quern's, Hadoop's) is not checked.
func TestExpandRefusesDamagedOutput(t *testing.T) {
	dir := mkfiles(t, "data/a.txt", "data/out/part-00000", "data/out/part-00001", "hadoop/part-00000", "hadoop/_SUCCESS")
	j := func(p string) string { return filepath.Join(dir, p) }
	list := fmt.Sprintf("part-00000 %d\npart-00001 %d\n", len("data/out/part-00000"), len("data/out/part-00001")+7)
	if err := os.WriteFile(j("data/out/_SUCCESS"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j("hadoop/_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{j("data"), j("data/out")} {
		_, err := Expand([]string{arg})
		if !errors.Is(err, ErrDamagedOutput) || !strings.Contains(err.Error(), j("data/out")+": ") ||
			!strings.Contains(err.Error(), "part-00001 has 19 bytes, its _SUCCESS says 26") {
			t.Errorf("Expand(%s): err = %v, want ErrDamagedOutput naming data/out and part-00001", arg, err)
		}
	}
	for _, arg := range []string{j("data/out/part-*"), j("hadoop")} {
		if _, err := Expand([]string{arg}); err != nil {
			t.Errorf("Expand(%s): %v", arg, err)
		}
	}

	// The same in an object store, where the listing gives the sizes.
	m := &memStore{objects: map[string][]byte{
		"data/a.txt":           []byte("a\n"),
		"data/out/_SUCCESS":    []byte("part-00000 2\npart-00001 9\n"),
		"data/out/part-00000":  []byte("b\n"),
		"data/out/part-00001":  []byte("cut\n"),
		"s3a/_SUCCESS":         []byte(`{"name": "S3A committer"}`),
		"s3a/part-00000":       []byte("d\n"),
		"whole/_SUCCESS":       []byte("part-00000 2\n"),
		"whole/part-00000":     []byte("e\n"),
		"whole/part-00001":     []byte("added after the commit\n"),
		"gone/_SUCCESS":        []byte("part-00000 2\n"),
		"gone/part-00001":      []byte("f\n"),
		"gone/other/part-0000": []byte("g\n"),
		"hid/a.txt":            []byte("h\n"),
		"hid/_old/_SUCCESS":    []byte("part-00000 5\n"), // hidden: not read, not checked
	}}
	objstore.Register("memdamaged", func(context.Context, string) (objstore.Store, error) { return m, nil })
	for _, tc := range []struct{ arg, want string }{
		{"memdamaged://b/data", "memdamaged://b/data/out: a file its _SUCCESS lists is missing or has another size: part-00001 has 4 bytes, its _SUCCESS says 9"},
		{"memdamaged://b/data/out/", "part-00001 has 4 bytes"},
		{"memdamaged://b/gone", "memdamaged://b/gone: a file its _SUCCESS lists is missing or has another size: part-00000 is missing"},
		{"memdamaged://b/data/out/part-*", ""},
		{"memdamaged://b/s3a", ""},
		{"memdamaged://b/whole", ""},
		{"memdamaged://b/hid", ""},
	} {
		_, err := Expand([]string{tc.arg})
		if tc.want == "" {
			if err != nil {
				t.Errorf("Expand(%s): %v", tc.arg, err)
			}
			continue
		}
		if !errors.Is(err, ErrDamagedOutput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Expand(%s): err = %v, want ErrDamagedOutput saying %q", tc.arg, err, tc.want)
		}
	}
}

// doneAfter is a context whose Err is context.Canceled from its nth call
// on: a walk stopped at a known point, however fast the machine.
type doneAfter struct {
	context.Context
	n atomic.Int64
}

func (c *doneAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestExpandStopsWhenDone: a listing whose context is done stops with an
// error that wraps the context's and names the argument, rather than go
// on over every file (Ctrl-C during the plan of a big folder on a slow
// file system), whether it is done before the walk, in the middle of it
// or of the checks, or in a glob's.
func TestExpandStopsWhenDone(t *testing.T) {
	dir := t.TempDir()
	for d := range 3 {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", d))
		must(t, os.MkdirAll(sub, 0o755))
		for f := range 200 {
			must(t, os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.txt", f)), []byte("a line\n"), 0o644))
		}
	}
	files, err := ExpandContext(context.Background(), []string{dir}, ExpandOptions{})
	must(t, err)
	if len(files) != 600 {
		t.Fatalf("%d files", len(files))
	}
	for _, tc := range []struct {
		arg   string
		after int64
	}{
		{dir, 0}, {dir, 1}, {dir, 250}, {dir, 599}, {dir + "/**/*.txt", 0}, {dir + "/**/*.txt", 300},
	} {
		ctx := &doneAfter{Context: context.Background()}
		ctx.n.Store(tc.after)
		_, err := ExpandContext(ctx, []string{tc.arg}, ExpandOptions{})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), tc.arg) {
			t.Errorf("%s, done after %d looks: error %v, want one naming it that wraps context.Canceled", tc.arg, tc.after, err)
		}
	}
}

// TestExpandCallsManyFilesOnce: ManyFiles is called once a listing has
// found ManyFilesAt files, however they were named (a folder's walk, a
// file named, a glob, a bucket's objects) and however many more follow,
// or read a directory of as many entries, and never for a listing below
// it: the driver's preparation for a large plan (a garbage collection) is
// not paid by a job over a few files.
func TestExpandCallsManyFilesOnce(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range ManyFilesAt - 1 {
		if err := os.WriteFile(filepath.Join(folder, fmt.Sprintf("f%05d.txt", i)), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	one := filepath.Join(dir, "one.txt")
	if err := os.WriteFile(one, []byte("y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &memStore{objects: map[string][]byte{}}
	for i := range ManyFilesAt {
		m.objects[fmt.Sprintf("logs/%05d.txt", i)] = []byte("z\n")
	}
	objstore.Register("memmany", func(context.Context, string) (objstore.Store, error) { return m, nil })

	for _, tc := range []struct {
		name  string
		args  []string
		calls int
	}{
		{"one fewer", []string{folder}, 0},
		{"a file named after the folder", []string{folder, one}, 1},
		{"the folder and a glob of it", []string{folder, filepath.Join(folder, "*.txt")}, 1},
		{"a bucket's objects", []string{"memmany://b/logs/"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			files, err := ExpandWith(tc.args, ExpandOptions{ManyFiles: func() { calls++ }})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) < ManyFilesAt-1 {
				t.Fatalf("%d files found, want at least %d", len(files), ManyFilesAt-1)
			}
			if calls != tc.calls {
				t.Fatalf("ManyFiles called %d times, want %d", calls, tc.calls)
			}
		})
	}

	// A directory of ManyFilesAt entries is a large listing before its
	// files are counted, even if some of them are skipped.
	if err := os.WriteFile(filepath.Join(folder, "_skipped.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := 0
	files, err := ExpandWith([]string{folder}, ExpandOptions{ManyFiles: func() { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != ManyFilesAt-1 || calls != 1 {
		t.Fatalf("a directory of %d entries, one skipped: %d files, ManyFiles called %d times, want %d and once",
			ManyFilesAt, len(files), calls, ManyFilesAt-1)
	}
}
