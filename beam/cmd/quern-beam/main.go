// Command quern-beam runs registered Quern jobs on Apache Beam: locally on
// Prism (tests and small data), or on Flink, Spark or Dataflow.
//
//	quern-beam apps
//	quern-beam run APP --input PATH --output DIR [app flags] [--runner NAME] [-- BEAM FLAGS]
//
// The app flags are those of `quern run APP` that mean something on Beam;
// everything after "--" goes to Beam's own flags (--endpoint,
// --environment_type, --environment_config, --worker_binary, --project,
// --region, --temp_location, --staging_location, ...). See
// docs/scale-out.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/quern-dev/quern/beam/beamjob"
	"github.com/quern-dev/quern/beam/worker"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// runners are the runners quern-beam offers, by --runner name.
var runners = map[string]beamjob.Executor{
	"prism":     prism.Execute,
	"flink":     flink.Execute,
	"spark":     spark.Execute,
	"dataflow":  dataflow.Execute,
	"universal": universal.Execute,
}

func main() {
	// A runner starts this same binary as a worker, with flags only
	// (--worker, --id, --control_endpoint, ...); they must be parsed
	// before worker.Init, which then serves the worker and exits.
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-") && !isHelp(os.Args[1]) {
		flag.Parse()
	}
	worker.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// Exit statuses: 0 success, 1 the job failed, 2 a usage error.
const (
	exitFailed = 1
	exitUsage  = 2
)

const usage = `usage:
  quern-beam apps                     list the registered apps and whether Beam can run them
  quern-beam run APP --input PATH --output DIR [flags] [-- BEAM FLAGS]
  quern-beam run APP --help           the app's flags
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "apps":
		listApps(stdout)
		return 0
	case "run":
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			fmt.Fprint(stderr, "quern-beam run: name an app (see 'quern-beam apps')\n")
			return exitUsage
		}
		return runApp(ctx, args[1], args[2:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "quern-beam: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

func listApps(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	for _, info := range mapreduce.Jobs() {
		fmt.Fprintf(tw, "%s\t%s\tbeam: yes\n", info.Name, info.Description)
	}
	for _, p := range pipeline.All() {
		if err := beamjob.CanRun(p); err != nil {
			fmt.Fprintf(tw, "%s\t%s\tbeam: no: %s\n", p.Name, p.Description, pipelineRefusal(p.Name, err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\tbeam: yes (one Beam pipeline)\n", p.Name, p.Description)
	}
	tw.Flush()
}

// pipelineRefusal says why a pipeline does not run on Beam, in the user's
// terms.
func pipelineRefusal(name string, err error) string {
	return fmt.Sprintf("%s; run it with 'quern run %s'", strings.TrimPrefix(err.Error(), pipeline.ErrNotPortable.Error()+": "), name)
}

// inputsFlag collects --input, repeatable, each value cut at its commas
// as quern run cuts it (input.SplitInputList), so that one command line
// names the same files on both engines.
type inputsFlag []string

func (l *inputsFlag) String() string { return strings.Join(*l, ",") }
func (l *inputsFlag) Set(v string) error {
	paths, err := input.SplitInputList(v)
	*l = append(*l, paths...)
	return err
}

func runApp(ctx context.Context, app string, args []string, stdout, stderr io.Writer) int {
	info, ok := mapreduce.Lookup(app)
	if p, isPipeline := pipeline.Lookup(app); isPipeline {
		if err := beamjob.CanRun(p); err != nil {
			fmt.Fprintf(stderr, "quern-beam run %s: %s cannot run on Beam: %s\n", app, app, pipelineRefusal(app, err))
			return exitUsage
		}
		// A pipeline is run as one Beam pipeline (beamjob); its flags
		// are its parameters.
		info, ok = mapreduce.JobInfo{Name: p.Name, Description: p.Description, Params: p.Params}, true
	}
	if !ok {
		fmt.Fprintf(stderr, "quern-beam run: no app named %q (see 'quern-beam apps')\n", app)
		return exitUsage
	}
	var beamArgs []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, beamArgs = args[:i], args[i+1:]
	}
	fs := flag.NewFlagSet("quern-beam run "+app, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var inputs inputsFlag
	fs.Var(&inputs, "input", "input `PATH`: a file, a directory (its files), a glob, or several of them separated by commas; repeatable")
	fs.Var(&inputs, "i", "short for --input")
	outDir := fs.String("output", "", "output `DIR`; must not exist or be empty")
	fs.StringVar(outDir, "o", "", "short for --output")
	runner := fs.String("runner", "prism", "Beam runner: prism (in-process, small data), flink, spark, dataflow or universal")
	reducers := fs.Int("reducers", beamjob.DefaultRanges, "key ranges, and so part files, of an app whose output is in total order (grep, sort); other apps ignore it: on Beam each reduce bundle writes one part file")
	sortBuffer := fs.String("sort-buffer", mapreduce.FormatSize(beamjob.DefaultSortBytes), "memory the sort of grep's and sort's key ranges, and of reverselinks' values per key, fills before it spills to disk")
	splitSize := fs.String("split-size", mapreduce.FormatSize(mapreduce.DefaultSplitSize), "largest byte range of a file one map element reads")
	precombine := fs.String("precombine", mapreduce.FormatSize(beamjob.DefaultPrecombineBytes), "memory a map bundle fills with pre-combined pairs before it emits them")
	inputFormat := fs.String("input-format", "", "read every input as text, csv, tsv, jsonl, parquet, arrow or wholefile (one record per file) (default: by file name)")
	outputFormat := fs.String("output-format", "text", "write part files as text, jsonl, parquet or arrow")
	outputCompression := fs.String("output-compression", "", "compress text and jsonl output: gz or zst")
	overwrite := fs.Bool("overwrite", false, "replace a non-empty output directory instead of refusing")
	quiet := fs.Bool("quiet", false, "print nothing on success")
	fs.BoolVar(quiet, "q", false, "short for --quiet")
	verbose := fs.Bool("verbose", false, "log the job's progress, and Beam's")
	fs.BoolVar(verbose, "v", false, "short for --verbose")
	params := map[string]*string{}
	for _, p := range info.Params {
		params[p.Name] = fs.String(p.Name, p.Default, p.Usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "quern-beam run %s: %s\n\nflags:\n", app, info.Description)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nFlags after \"--\" go to Beam (--endpoint, --environment_type, --worker_binary,\n--project, --region, --temp_location, ...); see docs/scale-out.md.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "quern-beam run %s: %s\n", app, fmt.Sprintf(format, a...))
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (Beam's flags go after \"--\")", fs.Arg(0))
	}
	if len(inputs) == 0 || *outDir == "" {
		return usageErr("--input and --output are required")
	}
	exec, ok := runners[*runner]
	if !ok {
		names := make([]string, 0, len(runners))
		for n := range runners {
			names = append(names, n)
		}
		slices.Sort(names)
		return usageErr("unknown --runner %q (want one of %s)", *runner, strings.Join(names, ", "))
	}
	// Beam's flags live in the global flag set, where its packages
	// registered them.
	flag.CommandLine.Init("quern-beam (Beam flags)", flag.ContinueOnError)
	flag.CommandLine.SetOutput(stderr)
	if err := flag.CommandLine.Parse(beamArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if flag.NArg() > 0 {
		return usageErr("unexpected Beam argument %q", flag.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["reducers"] && !info.TotalOrder {
		fmt.Fprintf(stderr, "quern-beam: --reducers=%d ignored: on Beam the runner decides how groups are bundled, and each reduce bundle writes one part file\n", *reducers)
	}
	cfg := beamjob.Config{
		Job: app, Inputs: inputs, Output: *outDir, Overwrite: *overwrite,
		InputFormat: *inputFormat, OutputFormat: *outputFormat, OutputCompression: *outputCompression,
		Params: map[string]string{}, Runner: *runner, Ranges: *reducers,
	}
	var err error
	if cfg.SplitSize, err = mapreduce.ParseSize(*splitSize); err != nil || cfg.SplitSize <= 0 {
		return usageErr("--split-size %q: want a positive size such as 64MiB", *splitSize)
	}
	if cfg.PrecombineBytes, err = mapreduce.ParseSize(*precombine); err != nil || cfg.PrecombineBytes <= 0 {
		return usageErr("--precombine %q: want a positive size such as 64MiB", *precombine)
	}
	if cfg.SortBytes, err = mapreduce.ParseSize(*sortBuffer); err != nil || cfg.SortBytes <= 0 {
		return usageErr("--sort-buffer %q: want a positive size such as 64MiB", *sortBuffer)
	}
	if *reducers == 0 {
		return usageErr("--reducers 0 (a map-only job) does not run on Beam; run it with 'quern run %s --reducers 0'", app)
	}
	if *reducers < 1 {
		return usageErr("--reducers %d: want at least 1", *reducers)
	}
	for _, p := range info.Params {
		if set[p.Name] || p.Default != "" {
			cfg.Params[p.Name] = *params[p.Name]
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// Prism and Beam's launcher log through slog's default logger: at INFO
	// they narrate every job, which only --verbose asks for.
	slog.SetDefault(cfg.Logger)

	res, err := beamjob.Run(ctx, cfg, exec)
	if err != nil {
		fmt.Fprintf(stderr, "quern-beam run %s: %v\n", app, err)
		if errors.Is(err, beamjob.ErrConfig) {
			return exitUsage
		}
		return exitFailed
	}
	if !*quiet {
		printSummary(stdout, res, *runner)
	}
	return 0
}

func printSummary(w io.Writer, res *mapreduce.Result, runner string) {
	t := res.Timings
	fmt.Fprintf(w, "%s: done on beam (%s) in %s (plan %s, pipeline %s, commit %s)\n", res.Job, runner,
		round(t.Total), round(t.Plan), round(t.Map), round(t.Commit))
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	for _, name := range res.Counters.Names() {
		fmt.Fprintf(tw, "  %s\t%d\t\n", name, res.Counters[name])
	}
	tw.Flush()
	fmt.Fprintf(w, "  output: %s (%d part files)\n", res.Output, len(res.Parts))
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
