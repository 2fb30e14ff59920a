package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestSmoke runs the whole suite, through the real code path (building
// quern and the Go baselines from this source tree, generating data,
// running processes), on tiny inputs, and checks that every available
// system agreed with Quern. DuckDB takes minutes to build cold, so it takes
// part only when a built baseline is already in the default cache.
func TestSmoke(t *testing.T) {
	needShell(t)
	duck := filepath.Join(DefaultCache(), "bin", "quern-duckdb-baseline")
	if _, err := os.Stat(duck); err != nil {
		duck = DuckDBOff
	}
	out, cache := t.TempDir(), t.TempDir()
	// A user's job history, which the suite's runs must leave alone.
	history := filepath.Join(t.TempDir(), "history")
	t.Setenv("QUERN_HISTORY", history)
	var log bytes.Buffer
	rep, err := Run(context.Background(), Config{
		Size: 2 << 20, Runs: 1, Cache: cache, Out: out, DuckDB: duck, Log: &log,
		Command: "go test ./bench -run TestSmoke",
	})
	if err != nil {
		var text bytes.Buffer
		if rep != nil {
			rep.WriteText(&text)
		}
		t.Fatalf("suite: %v\n%s\n%s", err, text.String(), log.String())
	}
	ran := map[string]bool{}
	for _, row := range rep.Rows {
		switch {
		case row.Status == "ok":
			require.Positive(t, row.MedianSec, "%s/%s", row.Workload, row.System)
			require.NotEmpty(t, row.Answer, "%s/%s", row.Workload, row.System)
			ran[row.Workload+"/"+row.System] = true
		case strings.HasPrefix(row.Status, "skipped: app not registered"):
			require.Equal(t, "quern", row.System, "only a whole workload is skipped")
		case strings.HasPrefix(row.Status, "unavailable: "):
			// DuckDB when it is not built; nothing else here.
			require.Equal(t, "duckdb", row.System, "%s/%s: %s", row.Workload, row.System, row.Status)
		default:
			t.Errorf("%s/%s: %s", row.Workload, row.System, row.Status)
		}
	}
	// wordcount and its own-module baselines are always there.
	for _, s := range []string{"quern", "go-plain", "go-fast", "tr|sort|uniq"} {
		require.True(t, ran["wordcount/"+s], "wordcount/%s did not run:\n%s", s, log.String())
	}
	// The pipeline and its two commands gave the same top words.
	require.True(t, ran["topwords/wordcount then topk"], "topwords' two commands did not run:\n%s", log.String())
	require.Positive(t, rep.Rows[0].WorkerRSS, "Quern's worker RSS comes from _job.json")
	// Quern and the Go baselines were built alike, without cgo.
	require.Equal(t, withoutCgo, rep.QuernBuild)
	require.Equal(t, withoutCgo, cgoBuild(filepath.Join(cache, "bin", "quern-wcfast")))
	scratch, err := os.ReadDir(filepath.Join(cache, "tmp"))
	require.NoError(t, err)
	require.Empty(t, scratch, "outputs and spills are removed")
	_, err = os.Stat(history)
	require.ErrorIs(t, err, os.ErrNotExist, "the suite's runs went to the user's job history")

	var decoded Report
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &decoded))
	require.Equal(t, len(rep.Rows), len(decoded.Rows))
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "| wordcount | go-fast |")
	require.Contains(t, string(md), "The quern binary was built without cgo (CGO_ENABLED=0)")
	svg, err := os.ReadFile(filepath.Join(out, "throughput.svg"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(svg, []byte("<svg")))
	require.Contains(t, string(svg), ">go-fast</text>")
}

// TestMismatchFails runs two processes that disagree and checks that the
// second is reported as a mismatch and fails the report, and that a failing
// process is an error rather than a mismatch.
func TestMismatchFails(t *testing.T) {
	needShell(t)
	e := &env{
		cfg:  Config{Size: 1 << 10, Seed: 1, Workers: 1, Cache: t.TempDir()},
		tmp:  t.TempDir(),
		apps: map[string]bool{"fake": true},
	}
	require.NoError(t, os.MkdirAll(filepath.Join(e.cfg.Cache, "data"), 0o755))
	w := &workload{name: "fake", app: "fake", kind: "text"}
	write := func(name, content string) *system {
		return shellBaseline(name, nil, func(*env) string { return `printf '` + content + `' > "$2"` },
			wordCountAnswer(tabCount))
	}
	fail := shellBaseline("fails", nil, func(*env) string { return `echo broken >&2; exit 3` }, wordCountAnswer(tabCount))
	rows, err := e.runWorkload(context.Background(), w, []*system{
		write("ref", `b\t2\na\t1\n`),
		write("same", `a\t1\nb\t2\n`),
		write("differs", `a\t1\nb\t3\n`),
		fail,
	}, 2)
	require.NoError(t, err)
	require.Equal(t, "ok", rows[0].Status)
	require.Equal(t, "ok", rows[1].Status)
	require.Len(t, rows[1].Walls, 2)
	require.Positive(t, rows[1].QuernSpeedup)
	require.True(t, strings.HasPrefix(rows[2].Status, "MISMATCH: 2 distinct words, 4 in all; quern: 2 distinct words, 3 in all"), rows[2].Status)
	require.True(t, strings.HasPrefix(rows[3].Status, "error: "), rows[3].Status)
	require.Contains(t, rows[3].Status, "broken")
	rep := &Report{Rows: rows}
	require.True(t, rep.Failed())
	rep.Rows = rows[:2]
	require.False(t, rep.Failed())
}

func TestSkippedWhenAppNotRegistered(t *testing.T) {
	e := &env{cfg: Config{Size: 1 << 10}, apps: map[string]bool{}}
	w := workloadByName("sort")
	rows, err := e.runWorkload(context.Background(), w, e.mainSystems(w), 1)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "skipped: app not registered", rows[0].Status)
	require.False(t, (&Report{Rows: rows}).Failed())
}

func TestUnknownWorkload(t *testing.T) {
	_, err := Run(context.Background(), Config{Size: 1, Workloads: []string{"nope"}, Cache: t.TempDir()})
	require.ErrorContains(t, err, `unknown workload "nope"`)
	_, err = Run(context.Background(), Config{Size: 0})
	require.Error(t, err)
}

func TestCancel(t *testing.T) {
	needShell(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := shellBaseline("sleep", nil, func(*env) string { return `sleep 10` }, nil)
	cmd, err := s.command(&env{tmp: t.TempDir()}, "in", "out", false)
	require.NoError(t, err)
	_, err = measure(ctx, cmd, "")
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestProfileFlags(t *testing.T) {
	out := t.TempDir()
	e := &env{cfg: Config{Out: out, CPUProfile: true, MemProfile: true, Quern: "quern"},
		runHelp: map[string]string{"wordcount": "--cpuprofile PREFIX\n--memprofile PREFIX\n"}}
	args, err := e.profileFlags(workloadByName("wordcount"), "workers=2")
	require.NoError(t, err)
	base := filepath.Join(out, "profiles", "wordcount-workers2")
	require.Equal(t, []string{"--cpuprofile", base + ".cpu", "--memprofile", base + ".mem"}, args)
	_, err = e.profileFlags(workloadByName("grep"), "")
	require.ErrorContains(t, err, "has no --cpuprofile flag")
}

// A Streaming workload's interpreter is run by its own path, which it
// prints, so that a shim on PATH (pyenv's) costs neither side; an
// interpreter that cannot say is run by its name.
// needShell skips a test whose baselines run as sh command lines, where
// there is no sh (Windows without Git Bash or MSYS, and Wine).
func needShell(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("the baselines are sh command lines, and there is no sh here: %v", err)
	}
}

func TestInterpreterPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake interpreters are shell scripts")
	}
	dir := t.TempDir()
	shim := filepath.Join(dir, "shim")
	require.NoError(t, os.WriteFile(shim, []byte("#!/bin/sh\necho /opt/lang/bin/lang3\n"), 0o755))
	broken := filepath.Join(dir, "broken")
	require.NoError(t, os.WriteFile(broken, []byte("#!/bin/sh\nexit 1\n"), 0o755))
	require.Equal(t, "/opt/lang/bin/lang3", (&interpreter{name: shim}).path())
	require.Equal(t, broken, (&interpreter{name: broken}).path())
}

// TestInputLogsOneLinePerFolder: a folder of generated documents is one
// line in the log (there were 104,857 at 1 GiB), made once, and its files
// hold at least the size asked for (each ends at a whole line).
func TestInputLogsOneLinePerFolder(t *testing.T) {
	var log bytes.Buffer
	e := &env{cfg: Config{Size: 64 << 10, Seed: 1, Cache: t.TempDir(), Log: &log}}
	w := &workload{kind: "text", docSize: 4 << 10, compress: "gz"}
	dir, err := e.input(context.Background(), w)
	require.NoError(t, err)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 16)
	require.Equal(t, 2, strings.Count(log.String(), "\n"), log.String())
	require.Contains(t, log.String(), "16 × 4KiB of text")
	require.Contains(t, log.String(), "compressing ")
	n, err := inputBytes(strings.TrimSuffix(dir, "-gz"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(64<<10))

	log.Reset()
	again, err := e.input(context.Background(), w)
	require.NoError(t, err)
	require.Equal(t, dir, again)
	require.Empty(t, log.String(), "a cached folder is not made again")
}

// TestInputSaysWhenItRemakesAFile: a file deleted from the middle of a
// cached folder is made again, the same bytes, and the log says so (it used
// to look at the folder's last file only, and made it again in silence).
func TestInputSaysWhenItRemakesAFile(t *testing.T) {
	var log bytes.Buffer
	e := &env{cfg: Config{Size: 64 << 10, Seed: 1, Cache: t.TempDir(), Log: &log}}
	w := &workload{kind: "text", docSize: 4 << 10}
	dir, err := e.input(context.Background(), w)
	require.NoError(t, err)
	middle := filepath.Join(dir, "doc-00007.txt")
	want, err := os.ReadFile(middle)
	require.NoError(t, err)
	require.NoError(t, os.Remove(middle))

	log.Reset()
	_, err = e.input(context.Background(), w)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("generating %s: 1 of its 16 files are missing\n", dir), log.String())
	got, err := os.ReadFile(middle)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// TestRemoveLeftovers: what a killed suite left in the cache (a half-made
// input, a half-compressed copy, a scratch directory) goes once it is old;
// a temporary file still being written and the cached data stay.
func TestRemoveLeftovers(t *testing.T) {
	cache := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * leftoverAge)
	file := func(name string, mtime time.Time) string {
		path := filepath.Join(cache, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(path, mtime, mtime))
		return path
	}
	stale := []string{
		file("data/.gen-123", old),
		file("data/text-docs16/.gz-456", old),
		file("data/text-docs16-gz/.gen-789", old),
	}
	scratch := filepath.Join(cache, "tmp", "run-1")
	file("tmp/run-1/wordcount-0-out/part-00000", old)
	require.NoError(t, os.Chtimes(scratch, old, old))
	stale = append(stale, scratch)
	kept := []string{
		file("data/.gen-999", now),
		file("data/text-1024-seed1.txt", old),
		file("data/text-docs16/doc-00000.txt", old),
	}
	live := filepath.Join(cache, "tmp", "run-2")
	require.NoError(t, os.MkdirAll(live, 0o755))
	kept = append(kept, live)

	require.Equal(t, len(stale), removeLeftovers(cache, now))
	for _, p := range stale {
		require.NoFileExists(t, p)
		require.NoDirExists(t, p)
	}
	for _, p := range kept {
		_, err := os.Stat(p)
		require.NoError(t, err, p)
	}
}

// TestInputStopsWhenCancelled: a cancelled suite stops making its input at
// once and leaves no partial file, finished or temporary (Ctrl-C used to
// wait for the whole folder to be generated).
func TestInputStopsWhenCancelled(t *testing.T) {
	cache := t.TempDir()
	e := &env{cfg: Config{Size: 64 << 10, Seed: 1, Cache: cache}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.input(ctx, &workload{kind: "text", docSize: 4 << 10})
	require.ErrorIs(t, err, context.Canceled)
	_, err = e.generate(ctx, "text", 4<<20, 1, filepath.Join(cache, "one.txt"))
	require.ErrorIs(t, err, context.Canceled)
	src := filepath.Join(cache, "src.txt")
	require.NoError(t, os.WriteFile(src, bytes.Repeat([]byte("word "), 1<<16), 0o644))
	_, err = e.compressed(ctx, src, src+".gz")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, warmInput(ctx, src), context.Canceled)

	var left []string
	require.NoError(t, filepath.WalkDir(cache, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path != src {
			left = append(left, path)
		}
		return err
	}))
	require.Empty(t, left)
}

// TestCgoBuild: the suite tells a quern built with cgo, whose processes
// each start later, from one built without, from the binary's build
// settings.
func TestCgoBuild(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build with")
	}
	dir := t.TempDir()
	for _, cgo := range []string{"0", "1"} {
		bin := filepath.Join(dir, "wcfast-"+cgo)
		cmd := exec.Command("go", "build", "-o", bin, "./baselines/wcfast")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		want := map[string]string{"0": withoutCgo, "1": withCgo}[cgo]
		require.Equal(t, want, cgoBuild(bin), "CGO_ENABLED=%s", cgo)
	}
	require.Empty(t, cgoBuild(filepath.Join(dir, "absent")))
}
