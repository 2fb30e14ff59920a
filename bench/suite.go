// Package bench is Quern's benchmark suite: it generates seeded input, runs
// each workload under Quern and under hand-written and off-the-shelf
// baselines, checks that every system gave the same answer, and reports wall
// time, throughput, peak memory and spill volume.
//
// Every system runs as a child process, Quern included (the quern binary's
// `run` command), so all of them pay process start-up and are measured the
// same way: wall time around the process, and peak RSS from the rusage of
// the process tree. Quern's driver and largest-worker RSS and its spill bytes
// come from the _job.json summary of its output directory.
//
// Runs alternate between systems (run 1 of every system, then run 2, …) so
// that a slow patch of the machine does not fall on one system only, and the
// report keeps the median.
package bench

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/gzip"

	"github.com/quern-dev/quern/bench/gen"
)

// Workloads lists the workloads in the order the suite runs and reports them.
var Workloads = []string{"wordcount", "sort", "grep", "invertedindex",
	"wordcount-files", "wordcount-tiny", "wordcount-gz", "wordcount-gzfiles", "wordcount-bz2", "pagerank", "topwords",
	"streaming-wordcount-py", "streaming-wordcount-node"}

// ErrMismatch is returned by Run when some system's answer differs from
// Quern's or a system failed; the report says which.
var ErrMismatch = errors.New("bench: systems disagree or failed")

// DuckDBOff as Config.DuckDB leaves the DuckDB baselines out.
const DuckDBOff = "off"

// Config says what to measure and where to keep data and binaries.
type Config struct {
	// Size is the input size per workload in bytes.
	Size int64
	// Workloads to run (default: all of Workloads).
	Workloads []string
	// Runs is how many times each system runs each workload (default 3).
	Runs int
	// Seed for the data generators (default 1).
	Seed uint64
	// Workers for Quern, and the parallelism given to the parallel
	// baselines (GNU sort --parallel, DuckDB threads); default: CPUs.
	Workers int
	// Cache holds generated data, built binaries and scratch space
	// (default: $XDG_CACHE_HOME/quern-bench or ~/.cache/quern-bench).
	Cache string
	// Out receives results.json, results.md and throughput.svg (default:
	// bench/out in the source tree, else Cache/results).
	Out string
	// Quern is the quern binary to measure; empty builds ./cmd/quern from
	// SourceDir into the cache.
	Quern string
	// SourceDir is the root of the quern module, where the Go baselines
	// are built from; empty searches upwards from the working directory.
	SourceDir string
	// DuckDB is the path of a built DuckDB baseline binary; empty builds
	// bench/duckdb into the cache, DuckDBOff skips the DuckDB baselines.
	DuckDB string
	// Scaling adds Quern runs with 1, 2 and 4 workers.
	Scaling bool
	// Sweep adds Quern runs over sort-buffer sizes and spill compressions.
	Sweep bool
	// CPUProfile and MemProfile ask `quern run` for CPU and heap profiles
	// of the driver and workers of each workload's last run, under Out.
	CPUProfile, MemProfile bool
	// Command is the command line recorded in the report.
	Command string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// DefaultCache returns $XDG_CACHE_HOME/quern-bench, or ~/.cache/quern-bench.
func DefaultCache() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "quern-bench")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "quern-bench")
	}
	return filepath.Join(os.TempDir(), "quern-bench")
}

// env is the state of one suite run: resolved configuration, built
// binaries, and the apps the quern binary offers.
type env struct {
	cfg     Config
	bin     string // Cache/bin
	tmp     string // scratch for spills and outputs
	apps    map[string]bool
	runHelp map[string]string // `quern run APP --help`, for flag detection
	builds  map[string]buildResult
	// quernMemory is what Quern's last run of the current workload used:
	// its driver's peak RSS plus its largest worker's times the workers.
	quernMemory int64
}

type buildResult struct {
	path string
	err  error
}

func (e *env) logf(format string, args ...any) {
	if e.cfg.Log != nil {
		fmt.Fprintf(e.cfg.Log, format+"\n", args...)
	}
}

// Run runs the suite and returns its report. The report is complete even
// when the error is ErrMismatch; other errors mean the suite itself could
// not run (no quern binary, unwritable cache, unknown workload).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	e, err := newEnv(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(e.tmp)
	cfg = e.cfg
	started := time.Now()
	rep := &Report{
		Command: cfg.Command, Machine: describeMachine(ctx), Size: cfg.Size, Runs: cfg.Runs,
		Workers: cfg.Workers, Seed: cfg.Seed, Started: started.UTC(), QuernBuild: cgoBuild(cfg.Quern),
	}
	if rep.QuernBuild == withCgo {
		e.logf("note: %s was built with cgo, so each of a job's processes loads libc before it starts (about 6 ms more a process on the machine of docs/benchmarks.md); the baselines are built without it: build quern with CGO_ENABLED=0 to compare like with like", cfg.Quern)
	}
	for _, name := range cfg.Workloads {
		w := workloadByName(name)
		rows, err := e.runWorkload(ctx, w, e.mainSystems(w), cfg.Runs)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
		if cfg.Scaling && e.apps[w.app] {
			var systems []*system
			for _, n := range []int{1, 2, 4} {
				systems = append(systems, e.quernSystem(w, fmt.Sprintf("workers=%d", n), "--workers", fmt.Sprint(n)))
			}
			rows, err := e.runWorkload(ctx, w, systems, cfg.Runs)
			if err != nil {
				return nil, err
			}
			rep.Scaling = append(rep.Scaling, relativeSpeedups(rows, cfg.Runs)...)
		}
		if cfg.Sweep && e.apps[w.app] {
			var systems []*system
			for _, buf := range []string{"16MiB", "64MiB", "256MiB"} {
				for _, comp := range []string{"zstd", "lz4", "none"} {
					systems = append(systems, e.quernSystem(w, "sort-buffer="+buf+" spill-compression="+comp,
						"--sort-buffer", buf, "--spill-compression", comp))
				}
			}
			rows, err := e.runWorkload(ctx, w, systems, cfg.Runs)
			if err != nil {
				return nil, err
			}
			rep.Sweep = append(rep.Sweep, relativeSpeedups(rows, cfg.Runs)...)
		}
	}
	rep.Elapsed = time.Since(started).Round(time.Second).String()
	if err := rep.writeFiles(cfg.Out); err != nil {
		return rep, err
	}
	if rep.Failed() {
		return rep, ErrMismatch
	}
	return rep, nil
}

func newEnv(ctx context.Context, cfg Config) (*env, error) {
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("bench: size must be positive, got %d", cfg.Size)
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = Workloads
	}
	for _, w := range cfg.Workloads {
		if !slices.Contains(Workloads, w) {
			return nil, fmt.Errorf("bench: unknown workload %q (have %s)", w, strings.Join(Workloads, ", "))
		}
	}
	if cfg.Cache == "" {
		cfg.Cache = DefaultCache()
	}
	if cfg.SourceDir == "" {
		cfg.SourceDir = findSourceDir()
	}
	if cfg.Out == "" {
		if cfg.SourceDir != "" {
			cfg.Out = filepath.Join(cfg.SourceDir, "bench", "out")
		} else {
			cfg.Out = filepath.Join(cfg.Cache, "results")
		}
	}
	e := &env{cfg: cfg, bin: filepath.Join(cfg.Cache, "bin"), builds: map[string]buildResult{}}
	for _, d := range []string{e.bin, filepath.Join(cfg.Cache, "data"), filepath.Join(cfg.Cache, "tmp"), cfg.Out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	if n := removeLeftovers(cfg.Cache, time.Now()); n > 0 {
		e.logf("removed %d leftovers of interrupted suites from %s", n, cfg.Cache)
	}
	tmp, err := os.MkdirTemp(filepath.Join(cfg.Cache, "tmp"), "run-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	e.tmp = tmp
	if e.cfg.Quern == "" {
		if cfg.SourceDir == "" {
			return nil, errors.New("bench: no quern binary given and no quern source tree found above the working directory")
		}
		p, err := e.goBuild(ctx, "quern", cfg.SourceDir, "./cmd/quern")
		if err != nil {
			return nil, fmt.Errorf("bench: build quern: %w", err)
		}
		e.cfg.Quern = p
	}
	if e.apps, err = registeredApps(ctx, e.cfg.Quern); err != nil {
		return nil, err
	}
	e.runHelp = map[string]string{}
	if cfg.CPUProfile || cfg.MemProfile {
		for app := range e.apps {
			out, _ := exec.CommandContext(ctx, e.cfg.Quern, "run", app, "--help").CombinedOutput()
			e.runHelp[app] = string(out)
		}
	}
	return e, nil
}

// findSourceDir returns the root of the quern module at or above the working
// directory, or "".
func findSourceDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/quern-dev/quern\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// registeredApps asks the quern binary which apps it holds (`quern apps`).
func registeredApps(ctx context.Context, quern string) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, quern, "apps").Output()
	if err != nil {
		return nil, fmt.Errorf("bench: %s apps: %w", quern, err)
	}
	apps := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			apps[f[0]] = true
		}
	}
	return apps, nil
}

// How a Go binary was built (Report.QuernBuild).
const (
	withoutCgo = "built without cgo (CGO_ENABLED=0)"
	withCgo    = "built with cgo (CGO_ENABLED=1)"
)

// cgoBuild says whether the Go binary at path was built with cgo, from its
// build settings, or "" if they cannot be read. With cgo (the go command's
// default where a C compiler is installed) quern's net and os/user
// packages link libc, and every process of a job starts later:
// `quern --help` took 40.5 ms against 34.2 without, a one-book word count
// 129 against 115 ms (medians of 30 and 12 alternated runs).
func cgoBuild(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value == "1" {
			return withCgo
		}
	}
	return withoutCgo
}

// goBuild builds a Go package of the module in dir into the cache's bin
// directory. Go's build cache makes a repeated build cheap, so the suite
// always builds and never runs a stale binary.
func (e *env) goBuild(ctx context.Context, name, dir, pkg string, env ...string) (string, error) {
	if r, ok := e.builds[name]; ok {
		return r.path, r.err
	}
	out := filepath.Join(e.bin, name)
	e.logf("building %s (%s in %s)", name, pkg, dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	// Without cgo, as the README builds quern (see cgoBuild); env may
	// turn cgo back on for a program that needs it (DuckDB's).
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("go build %s in %s: %w: %s", pkg, dir, err, strings.TrimSpace(string(msg)))
		out = ""
	}
	e.builds[name] = buildResult{out, err}
	return out, err
}

// input returns the workload's input: one file, or for a workload of
// documents a directory of files with consecutive seeds that together hold
// Size bytes; compressed if the workload says so (workload.compress).
func (e *env) input(ctx context.Context, w *workload) (string, error) {
	docs := w.docs
	if w.docSize > 0 {
		docs = int(max(1, e.cfg.Size/w.docSize))
	}
	if docs == 0 {
		path, err := e.dataFile(ctx, w.kind, e.cfg.Size, e.cfg.Seed)
		if err != nil || w.compress == "" {
			return path, err
		}
		if _, err := os.Stat(path + "." + w.compress); err != nil {
			e.logf("compressing %s", path)
		}
		return e.compressed(ctx, path, path+"."+w.compress)
	}
	name := fmt.Sprintf("%s-%d-seed%d-docs%d", w.kind, e.cfg.Size, e.cfg.Seed, docs)
	dir := filepath.Join(e.cfg.Cache, "data", name)
	zDir := filepath.Join(e.cfg.Cache, "data", name+"-"+w.compress)
	docSize := e.cfg.Size / int64(docs)
	// One line for the folder, not one per file: a folder of 104,857
	// documents printed as many lines. It counts the files missing, not
	// only the last one, so that a file deleted from the middle of a
	// cached folder is not made again in silence.
	if n := missingDocs(dir, docs, ".txt"); n == docs {
		e.logf("generating %s: %d × %s of %s", dir, docs, formatBytes(docSize), w.kind)
	} else if n > 0 {
		e.logf("generating %s: %d of its %d files are missing", dir, n, docs)
	}
	if n := missingDocs(zDir, docs, ".txt."+w.compress); n > 0 && w.compress != "" {
		e.logf("compressing %s into %s (%d files)", dir, zDir, n)
	}
	for i := range docs {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		doc := fmt.Sprintf("doc-%05d.txt", i)
		path, err := e.generate(ctx, w.kind, docSize, e.cfg.Seed+uint64(i), filepath.Join(dir, doc))
		if err == nil && w.compress != "" {
			_, err = e.compressed(ctx, path, filepath.Join(zDir, doc+"."+w.compress))
		}
		if err != nil {
			return "", err
		}
	}
	if w.compress != "" {
		return zDir, nil
	}
	return dir, nil
}

// leftoverAge is how long a temporary file or scratch directory in the
// cache must have gone unchanged before a new suite takes it for the
// leftover of a killed one: a generation or compression writes its file
// all the time, and a suite adds an output directory to its scratch
// directory every run, so one that is alive is never this old.
const leftoverAge = time.Hour

// removeLeftovers deletes what a suite stopped by SIGKILL or a closed
// terminal left in the cache (a deferred removal never ran): half-written
// inputs (.gen-*, .gz-*, .bz2-*) in data and its folders, and scratch directories
// (tmp/run-*). It returns how many it removed; it is best effort, as a
// leftover only costs disk.
func removeLeftovers(cache string, now time.Time) int {
	old := func(path string) bool {
		st, err := os.Lstat(path)
		return err == nil && now.Sub(st.ModTime()) > leftoverAge
	}
	var stale []string
	for _, pattern := range []string{"data/.gen-*", "data/.gz-*", "data/.bz2-*", "data/*/.gen-*", "data/*/.gz-*", "data/*/.bz2-*", "tmp/run-*"} {
		names, _ := filepath.Glob(filepath.Join(cache, pattern))
		for _, name := range names {
			if old(name) {
				stale = append(stale, name)
			}
		}
	}
	n := 0
	for _, name := range stale {
		if os.RemoveAll(name) == nil {
			n++
		}
	}
	return n
}

// missingDocs is how many of the files doc-00000 to doc-(docs-1), each
// name ending in ext, dir lacks; one directory read, not a stat per file.
func missingDocs(dir string, docs int, ext string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return docs
	}
	have := 0
	for _, d := range ents {
		num, ok := strings.CutPrefix(d.Name(), "doc-")
		num, ok2 := strings.CutSuffix(num, ext)
		i, err := strconv.Atoi(num)
		if ok && ok2 && err == nil && i >= 0 && i < docs && d.Name() == fmt.Sprintf("doc-%05d%s", i, ext) {
			have++
		}
	}
	return docs - have
}

// compressed returns dst, the copy of src compressed as its extension
// says (.gz, or .bz2 in blocks of 900 kB as bzip2 writes by default),
// making it first if needed; like generate, it appears under its name only
// when complete.
func (e *env) compressed(ctx context.Context, src, dst string) (string, error) {
	ext := strings.TrimPrefix(filepath.Ext(dst), ".")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer in.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), "."+ext+"-*")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer os.Remove(f.Name())
	var zw io.WriteCloser
	switch ext {
	case "gz":
		zw = gzip.NewWriter(f)
	case "bz2":
		zw, err = bzip2.NewWriter(f, &bzip2.WriterConfig{Level: bzip2.BestCompression})
	default:
		err = fmt.Errorf("no compressor for .%s", ext)
	}
	if err != nil {
		f.Close()
		return "", fmt.Errorf("bench: compress %s: %w", src, err)
	}
	_, err = io.Copy(zw, ctxReader{ctx, in})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		return "", fmt.Errorf("bench: compress %s: %w", src, err)
	}
	return dst, nil
}

// inputBytes is the size of a file, or of the files in a directory.
func inputBytes(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	if !st.IsDir() {
		return st.Size(), nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	var n int64
	for _, d := range ents {
		info, err := d.Info()
		if err != nil {
			return 0, fmt.Errorf("bench: %w", err)
		}
		n += info.Size()
	}
	return n, nil
}

// warmInput reads every file of the input once, so that the page cache
// holds it before the first timed run, whichever system that is. Without
// it the first run pays the disk reads the others do not: Quern's first
// run over 104,857 files of 10 KiB took 25.1 s against 9.5 s for its
// second (session 9), after other work had pushed the files out of the
// cache.
func warmInput(ctx context.Context, path string) error {
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		files = files[:0]
		for _, d := range ents {
			files = append(files, filepath.Join(path, d.Name()))
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		_, err = io.Copy(io.Discard, ctxReader{ctx, f})
		f.Close()
		if err != nil {
			return fmt.Errorf("bench: warm %s: %w", name, err)
		}
	}
	return nil
}

// dataFile returns the cached input of the given kind, size and seed, in
// the cache under a name that says them, generating it first if needed.
func (e *env) dataFile(ctx context.Context, kind string, size int64, seed uint64) (string, error) {
	path := filepath.Join(e.cfg.Cache, "data", fmt.Sprintf("%s-%d-seed%d.txt", kind, size, seed))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	e.logf("generating %s: %s of %s", path, formatBytes(size), kind)
	return e.generate(ctx, kind, size, seed, path)
}

// generate returns the input of the given kind, size and seed at path,
// generating it first if needed, without a line in the log. A file appears
// under its final name only when it is complete, so an interrupted
// generation is never mistaken for data.
func (e *env) generate(ctx context.Context, kind string, size int64, seed uint64, path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".gen-*")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriterSize(ctxWriter{ctx, f}, 1<<20)
	if _, err := gen.Generate(kind, bw, size, seed); err != nil {
		f.Close()
		return "", fmt.Errorf("bench: generate %s: %w", kind, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return "", fmt.Errorf("bench: write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("bench: write %s: %w", f.Name(), err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return path, nil
}

// runWorkload runs systems[0] (Quern) and the others on one workload, runs
// times each, alternating, and returns one row per system. Quern's answer
// of its first run is the reference every other answer must equal.
func (e *env) runWorkload(ctx context.Context, w *workload, systems []*system, runs int) ([]Row, error) {
	rows := make([]Row, len(systems))
	for i, s := range systems {
		rows[i] = Row{Workload: w.name, System: s.name, Config: s.config, Kind: w.kind}
	}
	if !e.apps[w.app] {
		rows = rows[:1]
		rows[0].Status = "skipped: app not registered"
		e.logf("%s: skipped, app %q not registered in %s", w.name, w.app, e.cfg.Quern)
		return rows, nil
	}
	input, err := e.input(ctx, w)
	if err != nil {
		return nil, err
	}
	size, err := inputBytes(input)
	if err != nil {
		return nil, err
	}
	if err := warmInput(ctx, input); err != nil {
		return nil, err
	}
	e.quernMemory = 0
	ready := make([]bool, len(systems))
	for i, s := range systems {
		rows[i].InputBytes = size
		if s.prepare != nil {
			if err := s.prepare(ctx, e); err != nil {
				rows[i].Status = "unavailable: " + err.Error()
				e.logf("%s/%s: unavailable: %v", w.name, s.name, err)
				continue
			}
		}
		ready[i] = true
	}
	var ref *answer
	for run := range runs {
		for i, s := range systems {
			if !ready[i] || ctx.Err() != nil {
				continue
			}
			r := &rows[i]
			out := filepath.Join(e.tmp, fmt.Sprintf("%s-%d-out", w.name, i))
			m, err := s.run(ctx, e, input, out, run == runs-1)
			if err == nil {
				var a answer
				var files []string
				if files, err = outputFiles(out); err == nil {
					a, err = s.answer(files)
				}
				if err == nil {
					r.Answer = a.Summary
					switch {
					case i == 0 && ref == nil:
						ref = &a
					case ref == nil:
						err = errors.New("no reference answer: quern failed")
					case s.countOnly && a.Count != ref.Count, !s.countOnly && !a.same(ref):
						r.Status = fmt.Sprintf("MISMATCH: %s; quern: %s", a.Summary, ref.Summary)
					}
				}
			}
			if rmErr := os.RemoveAll(out); rmErr != nil && err == nil {
				err = rmErr
			}
			if err != nil {
				r.Status = "error: " + err.Error()
				ready[i] = false
				e.logf("%s/%s run %d: %v", w.name, s.label(), run+1, err)
				continue
			}
			r.Walls = append(r.Walls, m.wall.Seconds())
			if m.cpu > 0 {
				r.CPUs = append(r.CPUs, m.cpu.Seconds())
				if m.programCPU > 0 {
					r.OwnCPUShare = max(r.OwnCPUShare, 1-m.programCPU.Seconds()/m.cpu.Seconds())
				}
			}
			r.DriverRSS = max(r.DriverRSS, m.driverRSS)
			r.WorkerRSS = max(r.WorkerRSS, m.workerRSS)
			r.SpillBytes = m.spillBytes
			if s.quern && s.config == "" {
				e.quernMemory = m.driverRSS + int64(e.cfg.Workers)*m.workerRSS
			}
			if s.memoryLimited {
				r.MemoryLimit = max(r.MemoryLimit, sortMemory(e))
			}
			e.logf("%s/%s run %d: %.2fs, %.1f MB/s", w.name, s.label(), run+1, m.wall.Seconds(),
				float64(size)/1e6/m.wall.Seconds())
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for i := range rows {
		r := &rows[i]
		if len(r.Walls) > 0 {
			r.MedianSec = median(r.Walls)
			if len(r.CPUs) > 0 {
				r.CPUSec = median(r.CPUs)
			}
			r.MBps = float64(r.InputBytes) / 1e6 / r.MedianSec
			if r.Status == "" {
				r.Status = "ok"
			}
		}
		if i > 0 && rows[0].MedianSec > 0 && r.MedianSec > 0 {
			r.QuernSpeedup = r.MedianSec / rows[0].MedianSec
			r.PairSpeedups = pairRatios(r.Walls, rows[0].Walls, runs)
		}
	}
	return rows, nil
}

// pairRatios is num[i] / den[i] for each run i, when both have all runs
// of the suite (a failed run leaves no time, and the pairs would shift).
func pairRatios(num, den []float64, runs int) []float64 {
	if len(num) != runs || len(den) != runs {
		return nil
	}
	r := make([]float64, runs)
	for i := range r {
		r[i] = num[i] / den[i]
	}
	return r
}

// relativeSpeedups makes each variant's speedup the first variant's median
// over its own: above 1, the variant is faster than the first. runs is how
// many runs each variant had.
func relativeSpeedups(rows []Row, runs int) []Row {
	for i := range rows {
		rows[i].QuernSpeedup, rows[i].PairSpeedups = 0, nil
		if i > 0 && rows[i].MedianSec > 0 && rows[0].MedianSec > 0 {
			rows[i].QuernSpeedup = rows[0].MedianSec / rows[i].MedianSec
			rows[i].PairSpeedups = pairRatios(rows[0].Walls, rows[i].Walls, runs)
		}
	}
	return rows
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ctxReader and ctxWriter end a copy with ctx's error once ctx is done:
// generating, compressing and reading a 1 GiB input takes minutes on a
// busy machine, and Ctrl-C waited for all of it (199 s over the 104,857
// tiny files), where a done context now stops it at the next buffer and
// the partial file is removed.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
