package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/mapreduce"
)

// These tests drive the CLI as a user does, one process per command, and
// check what it prints, its exit status and what it leaves on disk.

func TestHelp(t *testing.T) {
	t.Parallel()
	r := quern(t, t.TempDir(), "--help")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, cmd := range []string{"run", "apps", "gen", "cat", "clean"} {
		if !strings.Contains(r.stdout, "   "+cmd+" ") {
			t.Errorf("--help does not list the %s command\n%s", cmd, r.stdout)
		}
	}
}

func TestApps(t *testing.T) {
	t.Parallel()
	r := quern(t, t.TempDir(), "apps")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !regexpMatch(`(?m)^wordcount\s+count the occurrences of each word`, r.stdout) {
		t.Errorf("apps does not list wordcount with its description\n%s", r.stdout)
	}
}

func TestRunAppHelp(t *testing.T) {
	t.Parallel()
	r := quern(t, t.TempDir(), "run", "wordcount", "--help")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"--input", "--output", "--workers", "--sort-buffer", "--spill-compression", "--dry-run",
		"Example:", "quern gen text", "quern run wordcount --input corpus.txt --output out"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run wordcount --help lacks %q\n%s", want, r.stdout)
		}
	}
}

// TestHelpAfterArguments checks that --help after a command's arguments
// shows that command's help, as it does before them: cli took the first
// argument for the name of a subcommand and answered "No help topic".
func TestHelpAfterArguments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"gen", "text", "--help"},
		{"gen", "--size", "1KiB", "graph", "-h"},
		{"cat", "out", "--help"},
		{"run", "wordcount", "extra", "--help"},
	} {
		r := quern(t, dir, args...)
		want := "quern " + args[0]
		if args[0] == "run" {
			want = "quern run wordcount"
		}
		if r.code != 0 || !strings.Contains(r.stdout, "USAGE:") || !strings.Contains(r.stdout, want) ||
			strings.Contains(r.stdout+r.stderr, "No help topic") {
			t.Errorf("quern %s: want %s's help, exit status 0\n%s", strings.Join(args, " "), want, r)
		}
	}
}

func TestGen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, seed := range []string{"1", "1", "2"} {
		r := quern(t, dir, "gen", "text", "--size", "64KiB", "--seed", seed, "-o", "text-"+seed+"-"+strconv.Itoa(len(seed)))
		if r.code != 0 || r.stdout != "" {
			t.Fatal(r)
		}
	}
	a := readFile(t, filepath.Join(dir, "text-1-1"))
	// Text ends at a line's end, so it may overshoot the size by a line.
	if len(a) < 64<<10 || len(a) > 64<<10+1<<10 || a[len(a)-1] != '\n' {
		t.Errorf("gen text --size 64KiB wrote %d bytes, last %q", len(a), a[len(a)-1])
	}
	if words := countWords(t, a); len(words) < 100 {
		t.Errorf("gen text wrote only %d distinct words", len(words))
	}
	r := quern(t, dir, "gen", "text", "--size", "64KiB", "--seed", "1")
	if r.code != 0 || r.stdout != string(a) {
		t.Errorf("gen text to stdout differs from gen text -o with the same seed (%d vs %d bytes)", len(r.stdout), len(a))
	}
	if b := readFile(t, filepath.Join(dir, "text-2-1")); bytes.Equal(a, b) {
		t.Error("gen text wrote the same bytes for seeds 1 and 2")
	}
}

func TestWordcount(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := genText(t, dir, "in.txt", "64KiB")
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--workers", "2", "--reducers", "3", "--split-size", "16KiB")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !strings.HasPrefix(r.stdout, "wordcount: done in ") || !strings.Contains(r.stdout, "output: out (3 part files)") {
		t.Errorf("no summary:\n%s", r)
	}
	if !regexpMatch(`map_input_bytes\s+`+strconv.Itoa(len(in))+`\n`, r.stdout) {
		t.Errorf("summary does not count %d input bytes:\n%s", len(in), r.stdout)
	}
	wantFiles(t, filepath.Join(dir, "out"), "_SUCCESS", "_job.json", "part-00000", "part-00001", "part-00002")
	got := map[string]int{}
	for i := range 3 {
		part := readFile(t, filepath.Join(dir, "out", fmt.Sprintf("part-%05d", i)))
		for w, n := range parseCounts(t, part) {
			if _, dup := got[w]; dup {
				t.Errorf("word %q is in two part files", w)
			}
			got[w] = n
		}
	}
	wantCounts(t, got, countWords(t, in))

	// --quiet prints nothing; the same input gives the same parts.
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out2", "--workers", "2", "--reducers", "3", "-q")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet printed something:\n%s", r)
	}
	for i := range 3 {
		name := fmt.Sprintf("part-%05d", i)
		if !bytes.Equal(readFile(t, filepath.Join(dir, "out", name)), readFile(t, filepath.Join(dir, "out2", name))) {
			t.Errorf("%s differs between runs with different split sizes", name)
		}
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := genText(t, dir, "in.txt", "64KiB")
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--dry-run",
		"--split-size", "16KiB", "--workers", "2", "--reducers", "3", "--sort-buffer", "8MiB", "--spill-compression", "zstd")
	if r.code != 0 {
		t.Fatal(r)
	}
	// The text ends its last line just past 64 KiB; a rest of at most a
	// tenth of the split size joins the last split (the split slop).
	splits := len(in) / (16 << 10)
	if rest := len(in) % (16 << 10); rest > (16<<10)/10 {
		splits++
	}
	for _, want := range []string{
		"job wordcount, engine local\n",
		"inputs: 1 file, 64.1 KiB\n",
		"  in.txt (64.1 KiB, text, none)\n",
		fmt.Sprintf("map tasks: %d (split size 16KiB)\n", splits),
		"  map-00000 in.txt:[0,16384)\n",
		fmt.Sprintf("  map-%05d in.txt:[%d,%d)\n", splits-1, (splits-1)*16<<10, len(in)),
		"reduce tasks: 3\n",
		"workers: 2, sort buffer 8MiB, spill compression zstd, merge fan-in 64\n",
		"rebalance: an idle worker takes over part of a running map task with 8MiB or more left\n",
		"output: out (text)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q\n%s", want, r.stdout)
		}
	}
	if !regexpMatch(`(?m)^memory: about [0-9.]+ MiB per worker, [0-9.]+ MiB in all$`, r.stdout) {
		t.Errorf("dry run does not estimate memory\n%s", r.stdout)
	}
	wantAbsent(t, filepath.Join(dir, "out"))

	// --rebalance 0 turns it off in any unit; Config's 0 would mean the
	// default.
	for flag, want := range map[string]string{
		"0":     "rebalance: off\n",
		"0MiB":  "rebalance: off\n",
		"64KiB": "rebalance: an idle worker takes over part of a running map task with 128KiB or more left\n",
	} {
		r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--dry-run", "--rebalance", flag)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("--rebalance %s: want %q\n%v", flag, want, r)
		}
	}

	// A file small enough for the plan to leave unopened shows the
	// compression its name says, as a guess: its task decides. (Not on
	// Windows, whose plan opens every file: input's mayRead.)
	if runtime.GOOS == "windows" {
		return
	}
	if err := os.Mkdir(filepath.Join(dir, "small"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "small", "a.txt.gz"), "not gzip at all\n")
	writeFile(t, filepath.Join(dir, "small", "b.txt"), "plain\n")
	r = quern(t, dir, "run", "wordcount", "-i", "small", "-o", "out", "--dry-run")
	for _, want := range []string{
		"inputs: 2 files, 22 B\n",
		"  small/a.txt.gz (16 B, text, gzip by its name)\n",
		"  small/b.txt (6 B, text, none by its name)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q\n%s", want, r.stdout)
		}
	}
}

func TestCatFormats(t *testing.T) {
	testenv.SkipUnderRace(t, "quern cat's formats")
	t.Parallel()
	dir := t.TempDir()
	in := genText(t, dir, "in.txt", "64KiB")
	want := countWords(t, in)
	for _, tc := range []struct {
		flags []string
		part  string
	}{
		{[]string{"--output-format", "parquet"}, "part-00001.parquet"},
		{[]string{"--output-compression", "gz"}, "part-00001.gz"},
		{[]string{"--output-format", "arrow"}, "part-00001.arrow"},
		{[]string{"--output-compression", "zst"}, "part-00001.zst"},
	} {
		t.Run(tc.part, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.part, ".", "_"))
			args := append([]string{"run", "wordcount", "-i", "in.txt", "-o", out, "--reducers", "2", "-q"}, tc.flags...)
			if r := quern(t, dir, args...); r.code != 0 {
				t.Fatal(r)
			}
			wantFiles(t, out, "_SUCCESS", "_job.json", strings.Replace(tc.part, "1", "0", 1), tc.part)
			r := quern(t, dir, "cat", filepath.Join(out, strings.Replace(tc.part, "1", "0", 1)), filepath.Join(out, tc.part))
			if r.code != 0 {
				t.Fatal(r)
			}
			wantCounts(t, parseCounts(t, []byte(r.stdout)), want)
			// The output directory itself: its part files in order.
			if whole := quern(t, dir, "cat", out); whole.code != 0 || whole.stdout != r.stdout {
				t.Fatalf("quern cat %s: %v, want the part files' %d bytes", out, whole, len(r.stdout))
			}
		})
	}
	// gz output really is gzip, readable without quern.
	f, err := os.Open(filepath.Join(dir, "part-00001_gz", "part-00000.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("part-00000.gz is not gzip: %v", err)
	}
	if _, err := bufio.NewReader(zr).ReadString('\n'); err != nil {
		t.Fatalf("part-00000.gz: %v", err)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := genText(t, dir, "in.txt", "64KiB")
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--reducers", "3", "--merge")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !strings.Contains(r.stdout, "merged: "+filepath.Join("out", "merged")) {
		t.Errorf("summary does not name the merged file\n%s", r.stdout)
	}
	wantFiles(t, filepath.Join(dir, "out"), "_SUCCESS", "_job.json", "merged", "part-00000", "part-00001", "part-00002")
	merged := readFile(t, filepath.Join(dir, "out", "merged"))
	var keys []string
	for line := range strings.Lines(string(merged)) {
		k, _, _ := strings.Cut(line, "\t")
		keys = append(keys, k)
	}
	if !slices.IsSorted(keys) {
		t.Error("merged is not in key order")
	}
	wantCounts(t, parseCounts(t, merged), countWords(t, in))
	// Committed as a part is: _SUCCESS lists it, so that a merged file cut
	// short afterwards is refused too.
	if want := fmt.Sprintf("merged %d\n", len(merged)); !strings.Contains(string(readFile(t, filepath.Join(dir, "out", "_SUCCESS"))), want) {
		t.Errorf("_SUCCESS does not list %q", want)
	}
}

func TestOverwrite(t *testing.T) {
	testenv.SkipUnderRace(t, "--overwrite")
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "64KiB")
	out := filepath.Join(dir, "out")
	if r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--reducers", "2", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out")
	if r.code != 2 || !strings.Contains(r.stderr, "output directory out is not empty") || !strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("want exit 2 and a message that names the directory and --overwrite\n%s", r)
	}
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--overwrite", "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	wantFiles(t, out, "_SUCCESS", "_job.json", "part-00000")

	// A file quern did not write is never overwritten, even with --overwrite.
	writeFile(t, filepath.Join(out, "precious"), "keep me")
	for _, args := range [][]string{{}, {"--overwrite"}} {
		r = quern(t, dir, append([]string{"run", "wordcount", "-i", "in.txt", "-o", "out"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "holds files quern did not write (precious)") {
			t.Fatalf("want exit 2 and a message that names the foreign file\n%s", r)
		}
	}
	wantFiles(t, out, "_SUCCESS", "_job.json", "part-00000", "precious")
	if got := string(readFile(t, filepath.Join(out, "precious"))); got != "keep me" {
		t.Errorf("refused output directory was touched: precious holds %q", got)
	}
}

// TestUsageErrors checks that each way of calling quern wrongly exits with
// status 2, says what is wrong, and creates no output directory.
func TestUsageErrors(t *testing.T) {
	testenv.SkipUnderRace(t, "usage errors")
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "4KiB")
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "hidden-only"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "hidden-only", "_SUCCESS"), "")
	// A sparse 1 TiB file: cut at one byte, a trillion map tasks.
	big := t.TempDir() // outside dir, which is read recursively below
	writeFile(t, filepath.Join(big, "huge.txt"), "")
	if err := os.Truncate(filepath.Join(big, "huge.txt"), 1<<40); err != nil {
		t.Fatal(err)
	}
	wc := []string{"run", "wordcount", "-i", "in.txt", "-o", "out"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown app", []string{"run", "wordcont", "-i", "in.txt", "-o", "out"}, `no app named "wordcont" (see 'quern apps')`},
		{"no app", []string{"run"}, "name an app"},
		{"app without run", []string{"wordcount", "-i", "in.txt", "-o", "out"}, `no command "wordcount": an app runs with 'quern run wordcount'`},
		{"pipeline without run", []string{"topwords", "-i", "in.txt"}, `no command "topwords": an app runs with 'quern run topwords'`},
		{"unknown command", []string{"frobnicate"}, `no command "frobnicate" (see 'quern --help')`},
		{"missing input", []string{"run", "wordcount", "-o", "out"}, `Required flag "input" not set`},
		{"paths as arguments", []string{"run", "wordcount", "in.txt", "out"},
			`wordcount: no flag takes the arguments "in.txt" "out"; name the input with -i PATH and the output with -o DIR`},
		{"paths as arguments, pipeline", []string{"run", "topwords", "in.txt", "out"}, `topwords: no flag takes the arguments "in.txt" "out"; name the input with -i`},
		{"paths as arguments, stream", []string{"stream", "in.txt", "out", "--mapper", "cat"}, `stream: no flag takes the arguments "in.txt" "out"; name the input with -i`},
		{"missing output", []string{"run", "wordcount", "-i", "in.txt"}, `Required flag "output" not set`},
		{"zero workers", append(wc, "--workers", "0"), "--workers must be at least 1, got 0"},
		{"negative workers", append(wc, "--workers", "-3"), "--workers must be at least 1, got -3"},
		{"workers not a number", append(wc, "--workers", "two"), `invalid value "two" for flag -workers`},
		{"negative reducers", append(wc, "--reducers", "-1"), "--reducers must be 0 (a map-only job) or more, got -1"},
		{"map-only total order", []string{"run", "sort", "-i", "in.txt", "-o", "out", "--reducers", "0"}, "a map-only job (--reducers 0) writes them unsorted"},
		{"map-only pipeline", []string{"run", "topwords", "-i", "in.txt", "-o", "out", "--reducers", "0"}, "topwords is a pipeline whose stages group by key; it cannot run map-only"},
		{"map-only merge", append(wc, "--reducers", "0", "--merge"), "merge needs reducers"},
		{"merge out of key order", []string{"run", "topk", "-i", "in.txt", "-o", "out", "--merge"}, `--merge needs part files in key order; job "topk" writes its keys out of key order`},
		{"sort buffer unit", append(wc, "--sort-buffer", "12XB"), `--sort-buffer: size "12XB": unknown unit "XB"`},
		{"negative sort buffer", append(wc, "--sort-buffer", "-5MiB"), `--sort-buffer: size "-5MiB"`},
		{"zero split size", append(wc, "--split-size", "0"), `--split-size must be positive, got "0"`},
		{"absurd split size", []string{"run", "wordcount", "-i", big, "-o", "out", "--split-size", "1"}, "map tasks, more than the 100000 a job may have; use --split-size 21MiB or more"},
		{"absurd split size, dry run", []string{"run", "wordcount", "-i", big, "-o", "out", "--split-size", "1", "--dry-run"}, "use --split-size 21MiB or more"},
		{"absurd workers", append(wc, "--workers", "100000"), "workers must be at most"},
		{"absurd split size, pipeline", []string{"run", "topwords", "-i", big, "-o", "out", "--split-size", "1"}, "stage split: --split-size 1B cuts 1099511.6 MB in one file into 1099511627776 map tasks"},
		{"absurd reducers, pipeline", []string{"run", "topwords", "-i", "in.txt", "-o", "out", "--reducers", "100000"}, "use --reducers 4472 or fewer"},
		{"absurd reducers, pipeline dry run", []string{"run", "topwords", "-i", "in.txt", "-o", "out", "--reducers", "100000", "--dry-run"}, "use --reducers 4472 or fewer"},
		{"negative rebalance", append(wc, "--rebalance", "-1MiB"), `--rebalance: size "-1MiB": want a whole number of bytes`},
		{"task timeout below a heartbeat", append(wc, "--task-timeout", "100ms"), "task timeout must be 0 (none) or at least 1s, as a worker reports its progress every 500ms; got 100ms"},
		{"merge fan-in 1", append(wc, "--merge-fan-in", "1"), "--merge-fan-in must be at least 2, got 1"},
		{"merge fan-in 0", append(wc, "--merge-fan-in", "0"), "--merge-fan-in must be at least 2, got 0"},
		{"spill compression", append(wc, "--spill-compression", "brotli"), `spill compression: spill: unknown compression "brotli" (want none, lz4 or zstd)`},
		{"spill compression, old name", append(wc, "--spill-codec", "brotli"), `spill compression: spill: unknown compression "brotli" (want none, lz4 or zstd)`},
		{"log format", append(wc, "--log-format", "xml"), "--log-format must be text or json"},
		{"unknown flag", append(wc, "--frobnicate"), "flag provided but not defined: -frobnicate"},
		{"missing input path", []string{"run", "wordcount", "-i", "nope.txt", "-o", "out"}, `argument "nope.txt": no such file or directory: nope.txt`},
		{"glob matches nothing", []string{"run", "wordcount", "-i", "nope-*.txt", "-o", "out"}, `glob "nope-*.txt" matches no file`},
		{"standard input", []string{"run", "wordcount", "-i", "-", "-o", "out"}, `argument "-": standard input cannot be an input`},
		{"empty dir", []string{"run", "wordcount", "-i", "empty", "-o", "out"}, `directory "empty" holds no input file`},
		{"dir of _ files", []string{"run", "wordcount", "-i", "hidden-only", "-o", "out"}, `directory "hidden-only" holds no input file`},
		{"dry run of a missing input", []string{"run", "wordcount", "-i", "nope.txt", "-o", "out", "--dry-run"}, `argument "nope.txt"`},
		{"output is the input dir", []string{"run", "wordcount", "-i", ".", "-o", ".", "--overwrite"}, "output directory . is the current folder"},
		{"input inside output", []string{"run", "wordcount", "-i", "in.txt", "-o", dir, "--overwrite"}, "is the current folder"},
		{"grep without pattern", []string{"run", "grep", "-i", "in.txt", "-o", "out"}, `Required flag "pattern" not set`},
		// Parameters no record can make right fail before any task runs,
		// not in every attempt of every task (exit status 1).
		{"grep pattern", []string{"run", "grep", "-i", "in.txt", "-o", "out", "--pattern", "("}, `grep: --pattern "(": error parsing regexp`},
		{"topk k", []string{"run", "topk", "-i", "in.txt", "-o", "out", "--k", "0"}, `job "topk": --k "0": want a positive integer`},
		{"topk k, dry run", []string{"run", "topk", "-i", "in.txt", "-o", "out", "--k", "0", "--dry-run"}, `job "topk": --k "0"`},
		{"termvector top", []string{"run", "termvector", "-i", "in.txt", "-o", "out", "--top", "-1"}, `termvector: --top "-1": want a positive integer`},
		{"sort records", []string{"run", "sort", "-i", "in.txt", "-o", "out", "--records", "csv"}, `--records "csv": want gensort, lines or auto`},
		{"topwords k", []string{"run", "topwords", "-i", "in.txt", "-o", "out", "--k", "0"}, `pipeline topwords: --k "0": want a positive integer`},
		{"topwords k, dry run", []string{"run", "topwords", "-i", "in.txt", "-o", "out", "--k", "0", "--dry-run"}, `pipeline topwords: --k "0"`},
		// A shell glob after -i (-i logs/*.txt) gives -i its first file
		// and leaves the others; the job read one file of many.
		{"a glob the shell expanded", []string{"run", "wordcount", "-i", "in.txt", "empty", "hidden-only", "-o", "out"},
			`wordcount: no flag takes the arguments "empty" "hidden-only"; --input takes one path: repeat -i for each`},
		{"a glob the shell expanded, pipeline", []string{"run", "topwords", "-i", "in.txt", "empty", "-o", "out"},
			`topwords: no flag takes the argument "empty"; --input takes one path`},
		{"a glob the shell expanded, stream", []string{"stream", "-i", "in.txt", "empty", "-o", "out", "--mapper", "cat"},
			`stream: no flag takes the argument "empty"; --input takes one path`},
		{"clean of a folder", []string{"clean", "empty"}, `clean: no flag takes the argument "empty"; name the folder with --tmp-dir DIR`},
		{"apps with an argument", []string{"apps", "wordcount"}, `apps: no flag takes the argument "wordcount"`},
		{"gen of two kinds", []string{"gen", "text", "logs"}, `gen: no flag takes the argument "logs"`},
		{"gen without kind", []string{"gen"}, "gen: name a kind"},
		{"gen size", []string{"gen", "text", "--size", "1QB"}, `--size: size "1QB"`},
		{"cat without file", []string{"cat"}, "cat: name at least one file"},
		{"cat of a directory without _SUCCESS", []string{"cat", "empty"}, "cat: empty has no _SUCCESS: the job that wrote it failed or has not finished"},
		{"ui-linger without ui", append(wc, "--ui-linger", "1m"), "--ui-linger needs --ui"},
		{"ui address", append(wc, "--ui", "localhost:notaport"), "--ui: webui: listen on localhost:notaport"},
		{"ui without dir", []string{"ui"}, "ui: name at least one job output directory"},
		{"ui of a non-job dir", []string{"ui", "empty"}, "holds no _job.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := quern(t, dir, tc.args...)
			if r.code != 2 {
				t.Errorf("want exit status 2\n%s", r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q\n%s", tc.want, r)
			}
			if strings.Count(r.stderr, "\n") > 3 {
				t.Errorf("a usage error should be a line or two, not a page\n%s", r.stderr)
			}
			wantAbsent(t, filepath.Join(dir, "out"))
		})
	}
	// The refused runs that named the input directory as output left it
	// as it was.
	wantFiles(t, dir, "empty", "hidden-only", "in.txt")
}

// TestOutputInsideInputDir: a directory is read recursively, so a second
// run over a directory that holds the first run's output reads its part
// file too, but never its _SUCCESS or _job.json; the job's own output
// directory is created after the plan and is never its own input.
func TestOutputInsideInputDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := genText(t, dir, "in.txt", "16KiB")
	r := quern(t, dir, "run", "wordcount", "-i", ".", "-o", "out1", "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	part1 := readFile(t, filepath.Join(dir, "out1", "part-00000"))
	wantCounts(t, parseCounts(t, part1), countWords(t, in))
	r = quern(t, dir, "run", "wordcount", "-i", ".", "-o", "out2", "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	both := append(append([]byte{}, in...), part1...)
	wantCounts(t, parseCounts(t, readFile(t, filepath.Join(dir, "out2", "part-00000"))), countWords(t, both))
}

// TestInputPaths: --input as Hadoop users write it. Commas separate paths,
// except inside {a,b} alternatives; ** reaches into nested folders.
func TestInputPaths(t *testing.T) {
	testenv.SkipUnderRace(t, "input paths")
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"logs/a/deep", "logs/b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := genText(t, dir, "logs/a/deep/x.txt", "8KiB")
	b := genText(t, dir, "logs/b/y.txt", "4KiB")
	c := genText(t, dir, "c.txt", "2KiB")
	for _, tc := range []struct {
		name   string
		inputs []string
		want   [][]byte
	}{
		{"braces", []string{"-i", "logs/{a,b}"}, [][]byte{a, b}},
		{"braces and commas", []string{"-i", "logs/{a/deep,b}/*.txt,c.txt"}, [][]byte{a, b, c}},
		{"double star", []string{"-i", "**/*.txt"}, [][]byte{a, b, c}},
		{"repeated", []string{"-i", "logs", "-i", "c.txt"}, [][]byte{a, b, c}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := "out-" + strings.ReplaceAll(tc.name, " ", "-")
			args := append(append([]string{"run", "wordcount"}, tc.inputs...), "-o", out, "--reducers", "1", "-q")
			r := quern(t, dir, args...)
			if r.code != 0 {
				t.Fatal(r)
			}
			wantCounts(t, parseCounts(t, readFile(t, filepath.Join(dir, out, "part-00000"))), countWords(t, bytes.Join(tc.want, nil)))
		})
	}
	r := quern(t, dir, "run", "wordcount", "-i", "logs/{a,b", "-o", "out", "-q")
	if r.code != 2 || !strings.Contains(r.stderr, "without its '}'") {
		t.Errorf("unbalanced braces: want exit 2 and a clear message\n%s", r)
	}
}

func TestJobFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "64KiB")
	// The map task fails in every attempt.
	r := quernEnv(t, dir, []string{"QUERN_FAULTS=map-00000/0@record:10=error"},
		"run", "wordcount", "-i", "in.txt", "-o", "out", "--max-attempts", "2")
	if r.code != 1 {
		t.Errorf("want exit status 1\n%s", r)
	}
	for _, want := range []string{"\nquern: job wordcount: task map-00000 (in.txt:[0,", "failed after 2 attempt(s)", "injected fault"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q: %s", want, r.stderr)
		}
	}
	wantFailureReport(t, filepath.Join(dir, "out"))
}

// TestCorruptCompressedInput: a gzip file cut short, or followed by bytes
// that are not gzip, fails the same way in every attempt, so the job
// fails at its first attempt, with exit status 2 (an input problem) and
// an error naming the file, the split and how far it decoded.
func TestCorruptCompressedInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := genText(t, dir, "in.txt", "64KiB")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(in)
	zw.Close()
	z := buf.Bytes()
	writeFile(t, filepath.Join(dir, "cut.gz"), string(z[:len(z)/2]))
	writeFile(t, filepath.Join(dir, "tail.gz"), string(z)+"garbage\n")
	for name, says := range map[string]string{"cut.gz": "(the file is truncated)", "tail.gz": "followed by 8 bytes that are not gzip data"} {
		out := "out-" + name
		r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-i", name, "-o", out, "--max-attempts", "4")
		if r.code != 2 {
			t.Errorf("%s: want exit status 2\n%s", name, r)
		}
		last := lastLine(r.stderr)
		for _, want := range []string{"corrupt compressed file: gzip split " + name + ":[0,", "uncompressed bytes", says} {
			if !strings.Contains(last, want) {
				t.Errorf("%s: error lacks %q: %s", name, want, last)
			}
		}
		if strings.Contains(r.stderr, "attempt=2") {
			t.Errorf("%s: retried, want the job to fail at the first attempt\n%s", name, r)
		}
		// The file is at fault, not the flags; and the refusal, which ends
		// the job, is said once.
		if strings.Contains(r.stderr, "bad configuration") || strings.Count(r.stderr, "corrupt compressed file") != 1 {
			t.Errorf("%s: want the refusal said once, as an input error\n%s", name, r)
		}
		wantFailureReport(t, filepath.Join(dir, out))
	}
}

// wantFailureReport checks that a failed job's output directory holds its
// report and nothing else: _job.json (state failed) and maybe _logs/.
func wantFailureReport(t *testing.T, out string) {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatalf("a failed job leaves its report in %s: %v", out, err)
	}
	for _, e := range entries {
		if e.Name() != "_job.json" && e.Name() != "_logs" {
			t.Errorf("a failed job left %s in %s; want only _job.json and _logs", e.Name(), out)
		}
	}
	if !strings.Contains(string(readFile(t, filepath.Join(out, "_job.json"))), `"state": "failed"`) {
		t.Errorf("%s/_job.json does not say the job failed", out)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := quern(t, dir, "clean", "--tmp-dir", dir)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("clean of an empty directory\n%s", r)
	}
	// Work directories made by real drivers, as each platform names its
	// driver process: one whose driver is this test (a job run here, which
	// kept it), one whose driver has exited (a CLI run, which kept it and
	// also left the first alone when it cleaned at start-up), and a
	// directory quern did not make.
	in := filepath.Join(t.TempDir(), "in.txt")
	writeFile(t, in, "to be or not to be\n")
	_, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"),
		TmpDir: dir, KeepWorkDir: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	kept := workDirs(t, dir)
	if len(kept) != 1 {
		t.Fatalf("want the job's work directory in %s, found %q", dir, kept)
	}
	live := kept[0]
	r = quern(t, dir, "run", "wordcount", "-i", in, "-o", filepath.Join(t.TempDir(), "out"), "--tmp-dir", dir, "--keep-work-dir", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	kept = slices.DeleteFunc(workDirs(t, dir), func(d string) bool { return d == live })
	if len(kept) != 1 {
		t.Fatalf("want the CLI job's work directory in %s besides %s, found %q", dir, live, kept)
	}
	dead := kept[0]
	if err := os.Mkdir(filepath.Join(dir, "quern-notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A dead driver's work directory named as before 2026-12 (no "_").
	legacy := filepath.Join(dir, "quern-wordcount-1")
	if err := os.Mkdir(legacy, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(legacy, "driver"), string(readFile(t, filepath.Join(dead, "driver"))))
	r = quern(t, dir, "clean", "--tmp-dir", dir)
	if r.code != 0 || r.stdout != "removed "+dead+"\nremoved "+legacy+"\n" {
		t.Fatalf("want only %s and %s removed\n%s", dead, legacy, r)
	}
	wantFiles(t, dir, filepath.Base(live), "quern-notes")
}

// TestKeptWorkDirOutlivesTheNextJob: --keep-work-dir says where the runs
// are kept, and the next job in the same temporary folder leaves them
// (every job cleans dead drivers' work directories when it starts, and
// took the kept one for one); quern clean removes them.
func TestKeptWorkDirOutlivesTheNextJob(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "to be or not to be\n")
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "kept", "--tmp-dir", tmp, "--keep-work-dir")
	if r.code != 0 {
		t.Fatal(r)
	}
	kept := workDirs(t, tmp)
	if len(kept) != 1 || !strings.Contains(r.stdout, "work directory kept: "+kept[0]+" ") {
		t.Fatalf("want the summary to name the kept work directory, one of %q\n%s", kept, r)
	}
	runs, _ := filepath.Glob(filepath.Join(kept[0], "map-*", "attempt-*", "*"))
	if len(runs) == 0 {
		t.Fatalf("no spill runs in the kept work directory %s", kept[0])
	}
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "next", "--tmp-dir", tmp, "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	if got := workDirs(t, tmp); !slices.Equal(got, kept) {
		t.Fatalf("after the next job the work directories are %q, want %q", got, kept)
	}
	// A pipeline's, likewise.
	r = quern(t, dir, "run", "topwords", "-i", "in.txt", "-o", "topkept", "--tmp-dir", tmp, "--keep-work-dir")
	pipelineDirs, _ := filepath.Glob(filepath.Join(tmp, "_quern-pipeline-topwords-*"))
	if r.code != 0 || len(pipelineDirs) != 1 || !strings.Contains(r.stdout, "work directory kept: "+pipelineDirs[0]+" ") {
		t.Fatalf("want the summary to name the kept work directory, one of %q\n%s", pipelineDirs, r)
	}
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "after", "--tmp-dir", tmp, "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	r = quern(t, dir, "clean", "--tmp-dir", tmp)
	want := "removed " + pipelineDirs[0] + "\nremoved " + kept[0] + "\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("want quern clean to remove both kept directories, %s and %s\n%s", pipelineDirs[0], kept[0], r)
	}
}

// TestKeptWorkDirNotReadAsInput: a work directory kept inside an input
// folder (--tmp-dir data/tmp --keep-work-dir, or left by a killed driver)
// is not read by the next job over that folder: its spill runs were read
// as text, and the counts came out too large, exit 0.
func TestKeptWorkDirNotReadAsInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data", "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := genText(t, dir, "data/in.txt", "64KiB")
	r := quern(t, dir, "run", "wordcount", "-i", "data", "-o", "out1", "--tmp-dir", "data/tmp", "--keep-work-dir", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	if kept := workDirs(t, filepath.Join(dir, "data", "tmp")); len(kept) != 1 {
		t.Fatalf("want the kept work directory in data/tmp, found %q", kept)
	}
	// The next job's own work directory is elsewhere (the system's
	// temporary folder), so it does not clean data/tmp first.
	r = quern(t, dir, "run", "wordcount", "-i", "data", "-o", "out2", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	want := countWords(t, text)
	for _, out := range []string{"out1", "out2"} {
		r := quern(t, dir, "cat", out)
		if r.code != 0 {
			t.Fatal(r)
		}
		wantCounts(t, parseCounts(t, []byte(r.stdout)), want)
	}
}

// workDirs returns the wordcount jobs' work directories in dir.
func workDirs(t *testing.T, dir string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dir, "_quern-wordcount-*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// genText writes size bytes of generated text to dir/name with `quern gen`
// and returns them.
func genText(t *testing.T, dir, name, size string) []byte {
	t.Helper()
	if r := quern(t, dir, "gen", "text", "--size", size, "-o", name); r.code != 0 {
		t.Fatal(r)
	}
	return readFile(t, filepath.Join(dir, name))
}

// countWords counts words as wordcount defines them: maximal runs of
// Unicode letters.
func countWords(t *testing.T, text []byte) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, w := range strings.FieldsFunc(string(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		m[w]++
	}
	if len(m) == 0 {
		t.Fatal("no words in the input")
	}
	return m
}

// parseCounts reads WORD<TAB>COUNT lines.
func parseCounts(t *testing.T, text []byte) map[string]int {
	t.Helper()
	m := map[string]int{}
	for line := range strings.Lines(string(text)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("not WORD<TAB>COUNT: %q", line)
		}
		if _, dup := m[k]; dup {
			t.Errorf("word %q twice", k)
		}
		m[k] = n
	}
	return m
}

func wantCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d distinct words, want %d", len(got), len(want))
	}
	bad := 0
	for w, n := range want {
		if got[w] != n && bad < 5 {
			t.Errorf("count of %q is %d, want %d", w, got[w], n)
			bad++
		}
	}
}

// wantFiles checks that dir holds exactly the named entries.
func wantFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func wantAbsent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists (err %v), want it absent", path, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(pattern).MatchString(s)
}

// TestDashIsStandardStreams: "-" names standard input or output, as for
// every command-line tool, neither of which a job reads or writes, so
// both are refused; before, -i - read a file named - when one was there
// (the input piped in was ignored: a silent wrong answer), and -o -
// created a directory named -. ./- names such a file.
func TestDashIsStandardStreams(t *testing.T) {
	testenv.SkipUnderRace(t, "\"-\" as a path")
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "-"), "zebra zebra\n")
	writeFile(t, filepath.Join(dir, "in.txt"), "apple\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "wordcount", "-i", "-", "-o", "out"}, `argument "-": standard input cannot be an input`},
		{[]string{"run", "wordcount", "-i", "in.txt", "-o", "-"}, `output "-" is not standard output`},
		{[]string{"run", "topwords", "-i", "in.txt", "-o", "-"}, `output "-" is not standard output`},
		{[]string{"stream", "-i", "in.txt", "-o", "-", "--mapper", "cat"}, `output "-" is not standard output`},
	} {
		r := quern(t, dir, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "./-") {
			t.Errorf("quern %s: want exit status 2 saying %q and naming ./-\n%s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
	if got := readFile(t, filepath.Join(dir, "-")); string(got) != "zebra zebra\n" {
		t.Errorf("the file named - holds %q", got)
	}
	wantFiles(t, dir, "-", "in.txt")
	r := quern(t, dir, "run", "wordcount", "-i", "./-", "-o", "out", "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	if got := readFile(t, filepath.Join(dir, "out", "part-00000")); string(got) != "zebra\t2\n" {
		t.Errorf("-i ./- counted %q, want the file's words", got)
	}
}

// TestValidateSort: validate-sort takes sort's output for what it is
// without being told (gensort records, or text lines, which it refused as
// records of the wrong size), checks it against the input, and fails on
// output out of order.
func TestValidateSort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, kind := range []string{"gensort", "text"} {
		in := kind + ".in"
		if r := quern(t, dir, "gen", kind, "--size", "64KiB", "-o", in); r.code != 0 {
			t.Fatal(r)
		}
		if r := quern(t, dir, "run", "sort", "-i", in, "-o", kind+".out", "--split-size", "16KiB", "-q"); r.code != 0 {
			t.Fatal(r)
		}
		r := quern(t, dir, "validate-sort", "--input", in, kind+".out")
		if r.code != 0 || !strings.Contains(r.stdout, "SUCCESS - all records are in order") || !strings.Contains(r.stdout, "input matches") {
			t.Errorf("validate-sort of %s output:\n%s", kind, r)
		}
	}
	writeFile(t, filepath.Join(dir, "disorder.txt"), "b\na\n")
	if r := quern(t, dir, "validate-sort", "disorder.txt"); r.code != 1 || !strings.Contains(r.stdout, "FAILURE - record 2") {
		t.Errorf("validate-sort of lines out of order: want exit status 1 and the record\n%s", r)
	}
}

// TestTmpDirIsCreated: a --tmp-dir that does not exist yet is made, by a
// job as by a pipeline and Streaming (a job refused it, exit status 2,
// where a pipeline made it), and the job leaves it empty.
func TestTmpDirIsCreated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.txt"), "b a b\n")
	commands := [][]string{
		{"run", "wordcount"},
		{"run", "topwords"},
	}
	if runtime.GOOS != "windows" { // no cat there (nor under Wine a program that copies its input)
		commands = append(commands, []string{"stream", "--mapper", "cat"})
	}
	for i, args := range commands {
		tmp := filepath.Join("scratch", strconv.Itoa(i), "tmp")
		r := quern(t, dir, append(args, "-i", "in.txt", "-o", "out"+strconv.Itoa(i), "--tmp-dir", tmp, "-q")...)
		if r.code != 0 {
			t.Errorf("%s with a --tmp-dir to make:\n%s", strings.Join(args, " "), r)
			continue
		}
		if left, err := os.ReadDir(filepath.Join(dir, tmp)); err != nil || len(left) > 0 {
			t.Errorf("%s: --tmp-dir after the job: %v, %v; want it made and empty", strings.Join(args, " "), left, err)
		}
	}
}
