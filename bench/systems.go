package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quern-dev/quern/internal/jobhistory"
	"github.com/quern-dev/quern/mapreduce"
)

// workload is one benchmark: an app, the kind of data it reads, how to read
// Quern's answer, and the baselines that compute the same answer.
type workload struct {
	name string
	app  string // Quern app that runs it
	kind string // gen kind of its input
	// docs > 0 makes the input a directory of that many files, each a
	// document (seeds Seed, Seed+1, …).
	docs int
	// docSize > 0 makes the input a directory of files of about that
	// size, as many as the input size asks for (instead of docs).
	docSize int64
	// compress, "gz" or "bz2", compresses the input file, or every file
	// of the directory, with gzip or bzip2.
	compress string
	// params are extra `quern run APP` flags (the app's parameters), and
	// flags those that depend on the suite's configuration.
	params []string
	flags  func(e *env) []string
	// quernAnswer normalises Quern's part files.
	quernAnswer func(files []string) (answer, error)
	// baselines lists the other systems.
	baselines func(e *env) []*system
}

// system is one way to compute a workload's answer, run as a process.
type system struct {
	name   string // "quern", "go-plain", "gnu-sort", …
	config string // variant, for scaling and sweep rows
	// prepare finds or builds what the system needs; an error makes it
	// unavailable rather than failed.
	prepare func(ctx context.Context, e *env) error
	// command returns the process that reads input and writes output (a
	// file, or for Quern a directory). last is true on the final run.
	command func(e *env, input, output string, last bool) (*exec.Cmd, error)
	// answer normalises what the process wrote (outputFiles).
	answer func(files []string) (answer, error)
	// countOnly systems produce only the size of the answer (grep -c).
	countOnly bool
	// quern systems report driver and worker RSS and spill bytes from
	// their _job.json.
	quern bool
	// memoryLimited systems are given sortMemory, and the report says how
	// much.
	memoryLimited bool
}

func (s *system) label() string {
	if s.config != "" {
		return s.name + " " + s.config
	}
	return s.name
}

// measurement is what one run of a system cost.
type measurement struct {
	wall       time.Duration
	driverRSS  int64 // peak RSS of the process tree (Quern: of the driver)
	workerRSS  int64 // Quern only: largest worker
	spillBytes int64 // Quern only
	// cpu is the user and system time of the process tree (with GNU
	// time), and programCPU the part of it a Streaming job's programs
	// used (its streaming_program_cpu_ms counter).
	cpu, programCPU time.Duration
}

func workloadByName(name string) *workload {
	switch name {
	case "wordcount":
		return &workload{
			name: name, app: "wordcount", kind: "text",
			quernAnswer: wordCountAnswer(tabCount),
			baselines:   wordCountBaselines,
		}
	case "wordcount-files", "wordcount-tiny", "wordcount-gz", "wordcount-gzfiles", "wordcount-bz2":
		w := &workload{name: name, app: "wordcount", kind: "text", quernAnswer: wordCountAnswer(tabCount),
			baselines: func(*env) []*system {
				return []*system{goBaseline("go-fast", "./bench/baselines/wcfast", inOut, wordCountAnswer(tabCount))}
			}}
		switch name {
		case "wordcount-files":
			w.docSize = 400 << 10 // a folder of books
		case "wordcount-tiny":
			w.docSize = 10 << 10 // a folder of logs or crawled pages
		case "wordcount-gzfiles":
			w.docSize, w.compress = 4<<20, "gz"
		case "wordcount-gz":
			w.compress = "gz"
		case "wordcount-bz2":
			w.compress = "bz2"
		}
		switch w.compress {
		case "gz":
			w.baselines = func(*env) []*system { return []*system{catWcfast("zcat")} }
		case "bz2":
			w.baselines = func(*env) []*system { return []*system{catWcfast("bzcat")} }
		}
		return w
	case "sort":
		return &workload{
			name: name, app: "sort", kind: "gensort",
			params:      []string{"--records", "gensort"},
			quernAnswer: sortedAnswer,
			baselines:   sortBaselines,
		}
	case "grep":
		return &workload{
			name: name, app: "grep", kind: "logs",
			params:      []string{"--pattern", grepPattern},
			quernAnswer: grepAnswer(parseQuernGrep),
			baselines:   grepBaselines,
		}
	case "pagerank":
		return &workload{
			name: name, app: "pagerank", kind: "graph",
			params:      []string{"--iterations", strconv.Itoa(pageRankIterations)},
			quernAnswer: rankAnswer,
			baselines: func(*env) []*system {
				return []*system{goBaseline("go-plain", "./bench/baselines/pagerank", func(_ *env, input, output string) []string {
					return []string{"-iterations", strconv.Itoa(pageRankIterations), input, output}
				}, rankAnswer)}
			},
		}
	case "streaming-wordcount-py", "streaming-wordcount-node":
		lang, ext := python, ".py"
		if name == "streaming-wordcount-node" {
			lang, ext = node, ".js"
		}
		return &workload{
			name: name, app: "streaming", kind: "text",
			flags: func(e *env) []string {
				dir := filepath.Join(e.cfg.SourceDir, "examples", "streaming", "wordcount")
				run := lang.path()
				// `quern run streaming` takes the files comma-separated
				// (`quern stream` also takes --file repeated).
				return []string{"--mapper", run + " mapper" + ext, "--reducer", run + " reducer" + ext,
					"--file", filepath.Join(dir, "mapper"+ext) + "," + filepath.Join(dir, "reducer"+ext)}
			},
			quernAnswer: wordCountAnswer(tabCount),
			baselines: func(e *env) []*system {
				dir := filepath.Join(e.cfg.SourceDir, "examples", "streaming", "wordcount")
				return []*system{shellBaseline("cat|map|sort|reduce", []string{"cat", "sort", lang.name}, func(*env) string {
					run := lang.path()
					return fmt.Sprintf(`cat "$1" | %s %s | sort | %s %s > "$2"`,
						run, filepath.Join(dir, "mapper"+ext), run, filepath.Join(dir, "reducer"+ext))
				}, wordCountAnswer(tabCount))}
			},
		}
	case "topwords":
		// The pipeline against what it saves the user: word count
		// written out as text, then top-k over that text.
		return &workload{
			name: name, app: "topwords", kind: "text",
			params:      []string{"--k", strconv.Itoa(topWordsK)},
			quernAnswer: topAnswer,
			baselines:   func(*env) []*system { return []*system{wordCountThenTopK()} },
		}
	case "invertedindex":
		return &workload{
			name: name, app: "invertedindex", kind: "text", docs: 16,
			quernAnswer: indexAnswer,
			baselines:   indexBaselines,
		}
	}
	return nil
}

// An interpreter runs a Streaming workload's scripts, for Quern and for
// the shell pipeline alike, by the path of the interpreter itself, which
// it prints: a name on PATH may be a version manager's shim (pyenv's
// python3 is a bash script that runs several more before Python, about
// 0.5 CPU-s a start), and Quern starts a program per map task where the
// pipeline starts one, so a shim would weigh on Quern's side of the
// comparison with a cost that is neither Quern's nor the script's.
type interpreter struct {
	name  string   // the command on PATH
	where []string // the arguments that make it print its own path
	once  sync.Once
	found string
}

var (
	python = &interpreter{name: "python3", where: []string{"-c", "import sys; print(sys.executable)"}}
	node   = &interpreter{name: "node", where: []string{"-p", "process.execPath"}}
)

// path is the interpreter's own path, or its name where it cannot say.
func (i *interpreter) path() string {
	i.once.Do(func() {
		i.found = i.name
		out, err := exec.Command(i.name, i.where...).Output()
		if p := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(p) && !strings.ContainsAny(p, " \t'\"$") {
			i.found = p
		}
	})
	return i.found
}

// streamingProgramCPU is the counter of a Streaming job's programs' CPU
// time (streaming.CounterProgramCPU; bench does not link the job).
const streamingProgramCPU = "streaming_program_cpu_ms"

// topWordsK is the number of words the topwords workload keeps.
const topWordsK = 100

// wordCountThenTopK runs `quern run wordcount` and then `quern run topk`
// over its text output, as two commands (the same quern binary, workers
// and scratch directory as the pipeline): what the topwords pipeline
// does in one, without the counts becoming text in between.
func wordCountThenTopK() *system {
	return &system{
		name: "wordcount then topk",
		prepare: func(_ context.Context, e *env) error {
			for _, app := range []string{"wordcount", "topk"} {
				if !e.apps[app] {
					return fmt.Errorf("app %q not registered in %s", app, e.cfg.Quern)
				}
			}
			return nil
		},
		command: func(e *env, input, output string, _ bool) (*exec.Cmd, error) {
			// The word counts go next to the output, and are removed
			// with the second command's status kept.
			script := `"$QUERN" run wordcount --input "$1" --output "$2.counts" --quiet --workers "$WORKERS" --tmp-dir "$TMPDIR" &&
"$QUERN" run topk --k "$K" --input "$2.counts" --output "$2" --quiet --workers "$WORKERS" --tmp-dir "$TMPDIR"
status=$?; rm -rf "$2.counts"; exit $status`
			cmd := exec.Command("sh", "-c", script, "sh", input, output)
			cmd.Env = append(os.Environ(), "QUERN="+e.cfg.Quern, "WORKERS="+strconv.Itoa(e.cfg.Workers),
				"K="+strconv.Itoa(topWordsK), "TMPDIR="+e.tmp)
			return cmd, nil
		},
		answer: topAnswer,
	}
}

// pageRankIterations is the pagerank workload's rounds, as in the COST
// paper's comparison (McSherry, Isard and Murray, HotOS 2015).
const pageRankIterations = 20

// mainSystems is Quern with its defaults followed by the workload's
// baselines.
func (e *env) mainSystems(w *workload) []*system {
	return append([]*system{e.quernSystem(w, "")}, w.baselines(e)...)
}

// quernSystem runs `quern run APP` with the workload's parameters and extra
// flags.
func (e *env) quernSystem(w *workload, config string, flags ...string) *system {
	return &system{
		name: "quern", config: config, quern: true,
		command: func(e *env, input, output string, last bool) (*exec.Cmd, error) {
			args := []string{"run", w.app, "--input", input, "--output", output, "--quiet",
				"--tmp-dir", e.tmp}
			if !hasFlag(flags, "--workers") {
				args = append(args, "--workers", fmt.Sprint(e.cfg.Workers))
			}
			args = append(args, w.params...)
			if w.flags != nil {
				args = append(args, w.flags(e)...)
			}
			args = append(args, flags...)
			if last {
				prof, err := e.profileFlags(w, config)
				if err != nil {
					return nil, err
				}
				args = append(args, prof...)
			}
			return exec.Command(e.cfg.Quern, args...), nil
		},
		answer: w.quernAnswer,
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// profileFlags asks `quern run` for profiles when the suite was asked for
// them. The flags belong to `quern run`; a binary that lacks them is an
// error worth reporting rather than a silent run without profiles.
func (e *env) profileFlags(w *workload, config string) ([]string, error) {
	var args []string
	base := filepath.Join(e.cfg.Out, "profiles", w.name)
	if config != "" {
		base += "-" + strings.NewReplacer(" ", "-", "=", "").Replace(config)
	}
	for _, p := range []struct {
		on         bool
		flag, file string
	}{{e.cfg.CPUProfile, "cpuprofile", base + ".cpu"}, {e.cfg.MemProfile, "memprofile", base + ".mem"}} {
		if !p.on {
			continue
		}
		if !strings.Contains(e.runHelp[w.app], "--"+p.flag) {
			return nil, fmt.Errorf("%s run %s has no --%s flag", e.cfg.Quern, w.app, p.flag)
		}
		if err := os.MkdirAll(filepath.Dir(p.file), 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--"+p.flag, p.file)
	}
	return args, nil
}

// partFiles returns a Quern output directory's part files in partition
// order; files whose names start with "_" or "." are metadata.
func partFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, d := range ents {
		if n := d.Name(); !d.IsDir() && !strings.HasPrefix(n, "_") && !strings.HasPrefix(n, ".") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no part files", dir)
	}
	return files, nil // ReadDir sorts by name: part-00000, part-00001, …
}

// run runs the system once and measures it.
func (s *system) run(ctx context.Context, e *env, input, output string, last bool) (measurement, error) {
	cmd, err := s.command(e, input, output, last)
	if err != nil {
		return measurement{}, err
	}
	// The suite's runs are not the user's jobs: hundreds of them would push
	// the user's own out of the job history, which keeps the newest 1,000.
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, jobhistory.Env+"=")
	m, err := measure(ctx, cmd, output+".rss")
	if err != nil || !s.quern {
		return m, err
	}
	return m, readJobSummary(filepath.Join(output, "_job.json"), &m)
}

// measure runs cmd to completion and returns its wall time and the peak RSS
// of its process tree. The rusage of a reaped process covers the
// descendants it reaped in turn, so a shell pipeline or a Quern driver
// reports the largest of its processes.
//
// The rusage that Wait returns is not enough on its own: Go starts a child
// with vfork semantics, sharing the parent's memory until exec, and Linux
// carries that memory's high-water mark into the child's ru_maxrss, so every
// child would seem at least as large as the suite itself. GNU time forks
// from a small process, so when /usr/bin/time exists the command runs under
// it and its %M is the peak RSS.
func measure(ctx context.Context, cmd *exec.Cmd, rssFile string) (measurement, error) {
	var m measurement
	stderr := &tailWriter{max: 4 << 10}
	if cmd.Stderr == nil {
		cmd.Stderr = stderr
	}
	timed := false
	if rssFile != "" && gnuTime() != "" {
		cmd.Args = append([]string{gnuTime(), "-o", rssFile, "-f", "%U %S %M"}, cmd.Args...)
		cmd.Path = gnuTime()
		cmd.Err = nil
		timed = true
		defer os.Remove(rssFile)
	}
	// A process tree of its own (a process group; a Job Object on
	// Windows), killed whole on cancel, so that Ctrl-C does not leave a
	// pipeline's sort or a worker running.
	start := time.Now()
	tree, err := startTree(cmd)
	if err != nil {
		return m, err
	}
	defer tree.close()
	stop := context.AfterFunc(ctx, tree.kill)
	err = cmd.Wait()
	stop()
	m.wall = time.Since(start)
	if timed {
		m.driverRSS = readTimeRSS(rssFile)
		m.cpu = readTimeCPU(rssFile)
	} else {
		m.driverRSS = tree.peakRSS()
	}
	if err != nil {
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
		return m, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return m, nil
}

// gnuTime returns the path of GNU time, or "" when there is none.
var gnuTime = sync.OnceValue(func() string {
	const path = "/usr/bin/time"
	out, err := exec.Command(path, "-f", "%M", "true").CombinedOutput()
	if err != nil {
		return ""
	}
	if _, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil {
		return "" // not GNU time: no -f %M
	}
	return path
})

// readTimeRSS reads the KiB that GNU time wrote (after a "Command exited
// with non-zero status" line, when there is one) and returns bytes.
func readTimeRSS(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

// readTimeCPU reads the user and system seconds that GNU time wrote before
// the KiB (see readTimeRSS).
func readTimeCPU(path string) time.Duration {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return 0
	}
	user, err1 := strconv.ParseFloat(f[len(f)-3], 64)
	sys, err2 := strconv.ParseFloat(f[len(f)-2], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration((user + sys) * float64(time.Second))
}

// tailWriter keeps the last max bytes written to it: enough of a failing
// process's stderr to say why.
type tailWriter struct {
	buf []byte
	max int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }

// readJobSummary fills the Quern-only fields of m from _job.json.
func readJobSummary(path string, m *measurement) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s struct {
		PeakRSS struct {
			Driver        int64 `json:"driver"`
			LargestWorker int64 `json:"largest_worker"`
		} `json:"peak_rss_bytes"`
		Counters map[string]int64 `json:"counters"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if s.PeakRSS.Driver > 0 {
		m.driverRSS = s.PeakRSS.Driver
	}
	m.workerRSS = s.PeakRSS.LargestWorker
	m.spillBytes = s.Counters[mapreduce.SpillBytes]
	m.programCPU = time.Duration(s.Counters[streamingProgramCPU]) * time.Millisecond
	return nil
}

// goBaseline is a program under bench/baselines, built from the source tree.
func goBaseline(name, pkg string, args func(e *env, input, output string) []string, ans func([]string) (answer, error)) *system {
	var path string
	return &system{
		name: name,
		prepare: func(ctx context.Context, e *env) error {
			if e.cfg.SourceDir == "" {
				return errors.New("no quern source tree to build it from")
			}
			var err error
			path, err = e.goBuild(ctx, "quern-"+filepath.Base(pkg), e.cfg.SourceDir, pkg)
			return err
		},
		command: func(e *env, input, output string, _ bool) (*exec.Cmd, error) {
			return exec.Command(path, args(e, input, output)...), nil
		},
		answer: ans,
	}
}

func inOut(_ *env, input, output string) []string { return []string{input, output} }

// shellBaseline runs a sh -c script with the input as $1 and the output as
// $2, in the C locale, after checking that the tools it names exist.
func shellBaseline(name string, tools []string, script func(e *env) string, ans func([]string) (answer, error)) *system {
	return &system{
		name: name,
		prepare: func(context.Context, *env) error {
			for _, t := range append([]string{"sh"}, tools...) {
				if _, err := exec.LookPath(t); err != nil {
					return err
				}
			}
			return nil
		},
		command: func(e *env, input, output string, _ bool) (*exec.Cmd, error) {
			cmd := exec.Command("sh", "-c", script(e), "sh", input, output)
			cmd.Env = append(os.Environ(), "LC_ALL=C", "TMPDIR="+e.tmp)
			return cmd, nil
		},
		answer: ans,
	}
}

// duckDB runs the bench/duckdb baseline. It is built on demand, once, into
// the cache and reused while it is newer than its sources: a cold build of
// DuckDB takes minutes.
func duckDB(query string, extra func(e *env) []string, ans func([]string) (answer, error)) *system {
	return &system{
		name:    "duckdb",
		prepare: func(ctx context.Context, e *env) error { _, err := e.duckDBBinary(ctx); return err },
		command: func(e *env, input, output string, _ bool) (*exec.Cmd, error) {
			path, err := e.duckDBBinary(context.Background())
			if err != nil {
				return nil, err
			}
			args := []string{"-query", query, "-input", input, "-output", output,
				"-threads", fmt.Sprint(e.cfg.Workers), "-tmp-dir", e.tmp}
			if extra != nil {
				args = append(args, extra(e)...)
			}
			return exec.Command(path, args...), nil
		},
		answer: ans,
	}
}

func (e *env) duckDBBinary(ctx context.Context) (string, error) {
	const name = "quern-duckdb-baseline"
	if r, ok := e.builds[name]; ok {
		return r.path, r.err
	}
	switch {
	case e.cfg.DuckDB == DuckDBOff:
		err := errors.New("turned off")
		e.builds[name] = buildResult{"", err}
		return "", err
	case e.cfg.DuckDB != "":
		e.builds[name] = buildResult{e.cfg.DuckDB, nil}
		return e.cfg.DuckDB, nil
	case e.cfg.SourceDir == "":
		err := errors.New("no quern source tree to build bench/duckdb from")
		e.builds[name] = buildResult{"", err}
		return "", err
	}
	src := filepath.Join(e.cfg.SourceDir, "bench", "duckdb")
	bin := filepath.Join(e.bin, name)
	if fresh(bin, src) {
		e.builds[name] = buildResult{bin, nil}
		return bin, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	return e.goBuild(ctx, name, src, ".", "GOWORK=off", "CGO_ENABLED=1")
}

// fresh reports whether bin exists and is newer than every file in src.
func fresh(bin, src string) bool {
	st, err := os.Stat(bin)
	if err != nil {
		return false
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return false
	}
	for _, d := range ents {
		info, err := d.Info()
		if err != nil || info.ModTime().After(st.ModTime()) {
			return false
		}
	}
	return true
}

// sortMemory is the memory the sort baselines get: what Quern used on the
// same input just before (its driver's peak RSS plus its largest worker's
// for every worker), so that no comparison is lost to a limit Quern did not
// have (DuckDB failed at 256 MiB with 128 MiB while Quern's two workers
// peaked at 116 MiB each). Before Quern has run: one sort buffer per
// worker, what its map tasks may fill.
func sortMemory(e *env) int64 {
	if e.quernMemory > 0 {
		return (e.quernMemory + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return int64(e.cfg.Workers) * mapreduce.DefaultSortBuffer
}

func wordCountBaselines(*env) []*system {
	return []*system{
		goBaseline("go-plain", "./bench/baselines/wcplain", inOut, wordCountAnswer(tabCount)),
		goBaseline("go-fast", "./bench/baselines/wcfast", inOut, wordCountAnswer(tabCount)),
		shellBaseline("tr|sort|uniq", []string{"tr", "sort", "uniq"}, func(*env) string {
			return `tr -cs A-Za-z '\n' < "$1" | sort | uniq -c > "$2"`
		}, wordCountAnswer(uniqCount)),
		duckDB("wordcount", nil, wordCountAnswer(tabCount)),
	}
}

func sortBaselines(*env) []*system {
	gnu := shellBaseline("gnu-sort", []string{"sort"}, func(e *env) string {
		return fmt.Sprintf(`sort -S %dK --parallel=%d -T "$TMPDIR" -o "$2" "$1"`, sortMemory(e)>>10, e.cfg.Workers)
	}, sortedAnswer)
	duck := duckDB("sort", func(e *env) []string {
		return []string{"-memory", fmt.Sprintf("%dMiB", sortMemory(e)>>20)}
	}, sortedAnswer)
	gnu.memoryLimited, duck.memoryLimited = true, true
	return []*system{gnu, duck}
}

// grepPattern selects about one log line in twenty: server errors.
const grepPattern = `" 50[0-9] `

func grepBaselines(*env) []*system {
	count := shellBaseline("grep -c", []string{"grep"}, func(*env) string {
		return `grep -c -e '` + grepPattern + `' "$1" > "$2"; test $? -le 1`
	}, grepCountAnswer)
	count.countOnly = true
	return []*system{
		count,
		shellBaseline("grep -b", []string{"grep"}, func(*env) string {
			return `grep -b -e '` + grepPattern + `' "$1" > "$2"; test $? -le 1`
		}, grepAnswer(parseGrepB)),
	}
}

func indexBaselines(*env) []*system {
	return []*system{
		goBaseline("go-plain", "./bench/baselines/invindex", inOut, indexAnswer),
	}
}

// catWcfast is `zcat | wcfast -` (or bzcat, as cat names): the
// hand-written word count behind a decompressing pipe, over one compressed
// file or every file of a directory (a newline between files, so no word
// runs from one into the next).
func catWcfast(cat string) *system {
	wc := goBaseline(cat+"|go-fast", "./bench/baselines/wcfast", inOut, wordCountAnswer(tabCount))
	var path string
	return &system{
		name: wc.name,
		prepare: func(ctx context.Context, e *env) error {
			if _, err := exec.LookPath(cat); err != nil {
				return err
			}
			if err := wc.prepare(ctx, e); err != nil {
				return err
			}
			path = filepath.Join(e.bin, "quern-wcfast")
			return nil
		},
		command: func(e *env, input, output string, _ bool) (*exec.Cmd, error) {
			script := `if [ -d "$1" ]; then for f in "$1"/*; do "$CAT" "$f"; echo; done; else "$CAT" "$1"; fi | "$WCFAST" - "$2"`
			cmd := exec.Command("sh", "-c", script, "sh", input, output)
			cmd.Env = append(os.Environ(), "LC_ALL=C", "TMPDIR="+e.tmp, "WCFAST="+path, "CAT="+cat)
			return cmd, nil
		},
		answer: wc.answer,
	}
}
