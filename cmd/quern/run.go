package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/bytesize"
	"github.com/quern-dev/quern/mapreduce"
)

var one = 1

// runCommand has one subcommand per registered job, so that each app's own
// parameters are flags of `quern run APP`.
func runCommand() *cli.Command {
	cmd := &cli.Command{
		Name:      "run",
		Usage:     "run a registered app",
		ArgsUsage: "APP",
		// Flags after an unknown app's name are that app's, not run's:
		// stop parsing at the name so the error is "no app named", not
		// "flag provided but not defined: -input".
		StopOnNthArg: &one,
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() == 0 {
				return usagef("run: name an app (see 'quern apps')")
			}
			return usagef("run: no app named %q (see 'quern apps')", cmd.Args().First())
		},
	}
	for _, job := range mapreduce.Jobs() {
		cmd.Commands = append(cmd.Commands, jobCommand(job))
	}
	cmd.Commands = append(cmd.Commands, pipelineCommands()...)
	return cmd
}

// appFlags are the flags of an app's own parameters, listed before the
// common ones in its help. A parameter whose default is an integer is a
// number flag, so that --k ten is refused by the flag parser.
func appFlags(job mapreduce.JobInfo) []cli.Flag {
	var flags []cli.Flag
	for _, p := range job.Params {
		if isIntParam(p) {
			n, _ := strconv.ParseInt(p.Default, 10, 64)
			flags = append(flags, &cli.Int64Flag{Name: p.Name, Value: n, Usage: p.Usage, Required: p.Required, Category: "App options"})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: p.Name, Value: p.Default, Usage: p.Usage, Required: p.Required, Category: "App options"})
	}
	return flags
}

// setCategory files flag f under cat in help. Categories print in name
// order, so "App options" come before "Common options".
func setCategory(f cli.Flag, cat string) {
	if v := reflect.ValueOf(f); v.Kind() == reflect.Pointer {
		if c := v.Elem().FieldByName("Category"); c.IsValid() && c.CanSet() {
			c.SetString(cat)
		}
	}
}

// isIntParam reports whether p takes an integer: its default is one.
func isIntParam(p mapreduce.Param) bool {
	_, err := strconv.ParseInt(p.Default, 10, 64)
	return err == nil
}

func jobCommand(job mapreduce.JobInfo) *cli.Command {
	// A job may have its own split size (a Streaming job starts its
	// mapper program per map task: Hadoop's 128 MiB blocks, grown to one
	// task per worker); the driver applies it when --split-size is not
	// given (buildConfig).
	splitSize := int64(mapreduce.DefaultSplitSize)
	splitUsage := "byte range of a file one map task reads; a file's last range takes up to a tenth more (64KiB, 1MiB, 1GiB)"
	if job.SplitSize > 0 {
		splitSize = job.SplitSize
	}
	switch {
	case job.MaxSplitSize > splitSize && job.TasksPerWorker > 1:
		splitUsage += fmt.Sprintf("; unless given, grown up to %s while every worker keeps %d map tasks", mapreduce.FormatSize(job.MaxSplitSize), job.TasksPerWorker)
	case job.MaxSplitSize > splitSize:
		splitUsage += "; unless given, grown up to " + mapreduce.FormatSize(job.MaxSplitSize) + " to make one map task per worker"
	}
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "input `PATH`: a file, a directory (all files below it), a glob (** for any depth, {a,b} alternatives); comma-separated or repeated", Required: true},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `DIR`; must not exist or be empty", Required: true},
		&cli.IntFlag{Name: "workers", DefaultText: fmt.Sprintf("%d, one per CPU; fewer under a memory limit that needs it", runtime.NumCPU()),
			Usage: "worker processes"},
		&cli.IntFlag{Name: "reducers", DefaultText: "as many as --workers",
			Usage: "reduce tasks and part files; 0: a map-only job, whose output is the map output, one part per map task"},
		&cli.StringFlag{Name: "split-size", Value: mapreduce.FormatSize(splitSize), Usage: splitUsage},
		&cli.StringFlag{Name: "sort-buffer", DefaultText: mapreduce.FormatSize(mapreduce.DefaultSortBuffer) + ", less under a memory limit that needs it",
			Usage: "memory a map task fills before it sorts and spills a run"},
		&cli.StringFlag{Name: "tmp-dir", Usage: "directory for the job's spill files (default: the OS temp directory)"},
		&cli.StringFlag{Name: "spill-compression", Usage: "compression of spill runs: none (default), lz4 or zstd; lz4 when spills far exceed memory"},
		// The flag's name until 2026-12, kept for scripts that use it.
		&cli.StringFlag{Name: "spill-codec", Hidden: true, Usage: "the old name of --spill-compression"},
		&cli.IntFlag{Name: "merge-fan-in", DefaultText: fmt.Sprintf("%d, fewer if ulimit -n is low", mapreduce.DefaultMergeFanIn),
			Usage: "runs a reducer merges at once; more are merged in passes"},
		&cli.IntFlag{Name: "max-attempts", Value: mapreduce.DefaultMaxAttempts, Usage: "attempts per task before the job fails"},
		&cli.DurationFlag{Name: "task-timeout", Usage: "kill a task that shows no progress for this long (0: never)"},
		&cli.StringFlag{Name: "engine", Value: mapreduce.DefaultEngine, Usage: "local (worker processes) or inline (one process, for debugging)"},
		&cli.BoolFlag{Name: "keep-work-dir", Usage: "keep spill runs after the job, for inspection"},
		&cli.StringFlag{Name: "input-format", Usage: "read every input as text, csv, tsv, jsonl, parquet, arrow or wholefile (one record per file) (default: by file name)"},
		&cli.StringFlag{Name: "output-format", Value: "text", Usage: "write part files as text, jsonl, parquet or arrow"},
		&cli.StringFlag{Name: "output-compression", Usage: "compress text and jsonl output: gz or zst"},
		&cli.BoolFlag{Name: "merge", Usage: "also write one file in global key order (merged.*) besides the parts"},
		&cli.BoolFlag{Name: "overwrite", Usage: "replace a non-empty output directory instead of refusing"},
		&cli.BoolFlag{Name: "speculative", Usage: "start a backup attempt of a straggling task; the first to finish wins"},
		&cli.StringFlag{Name: "rebalance", Value: mapreduce.FormatSize(mapreduce.DefaultRebalance),
			Usage: "at the end of the map phase, a running map task hands at least this much of its input to an idle worker (0: never)"},
		&cli.IntFlag{Name: "skip-bad-records", Usage: "per map task, skip up to N records on which map fails in every attempt"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the plan (inputs, splits, tasks, memory) and run nothing"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write CPU profiles to `PREFIX`.driver and PREFIX.worker-PID"},
		&cli.StringFlag{Name: "memprofile", Usage: "write allocation profiles to `PREFIX`.driver and PREFIX.worker-PID"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing on success"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log the job's progress"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
	}
	flags = append(flags, uiFlags()...)
	for _, f := range flags {
		setCategory(f, "Common options")
	}
	flags = append(appFlags(job), flags...)
	description := ""
	if ex := appExamples[job.Name]; ex != "" {
		description = "Example:\n\n   " + strings.ReplaceAll(ex, "\n", "\n   ")
	}
	return &cli.Command{
		Name:        job.Name,
		Usage:       job.Description,
		Description: description,
		Flags:       flags,
		// --input is cut at commas by input.SplitInputList, which leaves
		// the commas of {a,b} alternatives alone.
		DisableSliceFlagSeparator: true,
		Before:                    pathsAsArguments,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, err := configFrom(cmd, job)
			if err != nil {
				return err
			}
			return runConfigured(ctx, cmd, job.Name, cfg)
		},
	}
}

// pathsAsArguments answers `quern run wordcount in.txt out`, the way
// many tools take their paths, with the way Quern takes them. It runs
// before the flag parser's check of required flags, which would say only
// that --input and --output are not set.
func pathsAsArguments(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	if cmd.IsSet("input") || cmd.IsSet("output") {
		return ctx, nil // configFrom refuses what no flag took
	}
	return ctx, strayArgs(cmd, 0, "name the input with -i PATH and the output with -o DIR")
}

// runConfigured runs the named job (or prints its plan, --dry-run) with the
// progress, status page and summary the common flags ask for.
func runConfigured(ctx context.Context, cmd *cli.Command, name string, cfg mapreduce.Config) error {
	if cmd.Bool("dry-run") {
		plan, err := mapreduce.Plan(name, cfg)
		if err != nil {
			return err
		}
		printPlan(cmd.Root().Writer, plan)
		return nil
	}
	stopUI, err := startLiveUI(ctx, cmd, &cfg)
	if err != nil {
		return err
	}
	stop := showProgress(cmd, &cfg)
	res, err := mapreduce.RunNamed(ctx, name, cfg)
	stop()
	stopUI()
	if err != nil {
		return err
	}
	if !cmd.Bool("quiet") {
		printSummary(cmd.Root().Writer, res)
	}
	return nil
}

// spillCompression is --spill-compression, or --spill-codec, its old name.
// (A codec, in Quern, encodes keys and values; a spill run is compressed.)
func spillCompression(cmd *cli.Command) string {
	if cmd.IsSet("spill-compression") {
		return cmd.String("spill-compression")
	}
	return cmd.String("spill-codec")
}

func configFrom(cmd *cli.Command, job mapreduce.JobInfo) (mapreduce.Config, error) {
	// A shell glob after -i (-i logs/*.txt) expands to many words, of
	// which -i takes the first: the job read one file of many, and said
	// nothing.
	if err := strayArgs(cmd, 0, "--input takes one path: repeat -i for each (-i a.txt -i b.txt), "+
		"join them with commas, or quote a glob for Quern to expand (-i 'logs/*.txt')"); err != nil {
		return mapreduce.Config{}, err
	}
	cfg := mapreduce.Config{
		Engine:           cmd.String("engine"),
		Output:           cmd.String("output"),
		Workers:          cmd.Int("workers"),
		Reducers:         cmd.Int("reducers"),
		TmpDir:           cmd.String("tmp-dir"),
		SpillCompression: spillCompression(cmd),
		MergeFanIn:       cmd.Int("merge-fan-in"),
		MaxAttempts:      cmd.Int("max-attempts"),
		TaskTimeout:      cmd.Duration("task-timeout"),
		KeepWorkDir:      cmd.Bool("keep-work-dir"),
		Params:           map[string]string{},

		InputFormat:       cmd.String("input-format"),
		OutputFormat:      cmd.String("output-format"),
		OutputCompression: cmd.String("output-compression"),
		Merge:             cmd.Bool("merge"),
		Overwrite:         cmd.Bool("overwrite"),
		Speculative:       cmd.Bool("speculative"),
		SkipBadRecords:    cmd.Int("skip-bad-records"),
		CPUProfile:        cmd.String("cpuprofile"),
		MemProfile:        cmd.String("memprofile"),
	}
	for _, v := range cmd.StringSlice("input") {
		paths, err := input.SplitInputList(v)
		if err != nil {
			return cfg, usagef("--input: %v", err)
		}
		cfg.Inputs = append(cfg.Inputs, paths...)
	}
	if cmd.IsSet("workers") && cfg.Workers < 1 {
		return cfg, usagef("--workers must be at least 1, got %d", cfg.Workers)
	}
	if cmd.IsSet("reducers") && cfg.Reducers < 0 {
		return cfg, usagef("--reducers must be 0 (a map-only job) or more, got %d", cfg.Reducers)
	}
	cfg.MapOnly = cmd.IsSet("reducers") && cfg.Reducers == 0
	if cmd.IsSet("merge-fan-in") && cfg.MergeFanIn < 2 { // unset: 0, the default
		return cfg, usagef("--merge-fan-in must be at least 2, got %d", cfg.MergeFanIn)
	}
	var err error
	if cmd.IsSet("split-size") { // unset: the job's own, or the default
		if cfg.SplitSize, err = sizeFlag(cmd, "split-size"); err != nil {
			return cfg, err
		}
	}
	if cmd.IsSet("rebalance") {
		// 0 in any unit (0, 0B, 0MiB) turns it off: Config's 0 would
		// mean the default.
		n, err := mapreduce.ParseSize(cmd.String("rebalance"))
		switch {
		case err != nil:
			return cfg, usagef("--rebalance: %v", err)
		case n == 0:
			cfg.Rebalance = -1
		default:
			cfg.Rebalance = n
		}
	}
	if cmd.IsSet("sort-buffer") { // unset: the default, fitted to a memory limit
		if cfg.SortBuffer, err = sizeFlag(cmd, "sort-buffer"); err != nil {
			return cfg, err
		}
	}
	for _, p := range job.Params {
		if cmd.IsSet(p.Name) || p.Default != "" {
			if isIntParam(p) {
				cfg.Params[p.Name] = strconv.FormatInt(cmd.Int64(p.Name), 10)
			} else {
				cfg.Params[p.Name] = cmd.String(p.Name)
			}
		}
	}
	logger, err := newLogger(cmd.ErrWriter, cmd.String("log-format"), cmd.Bool("verbose"))
	if err != nil {
		return cfg, err
	}
	cfg.Logger = logger
	if !cmd.IsSet("engine") && cfg.Engine != mapreduce.EngineLocal {
		fmt.Fprintf(cmd.Root().ErrWriter, "quern: worker processes are not supported on %s yet; running with --engine %s (one task at a time)\n",
			runtime.GOOS, cfg.Engine)
	}
	return cfg, nil
}

func sizeFlag(cmd *cli.Command, name string) (int64, error) {
	n, err := mapreduce.ParseSize(cmd.String(name))
	if err != nil {
		return 0, usagef("--%s: %v", name, err)
	}
	if n <= 0 {
		return 0, usagef("--%s must be positive, got %q", name, cmd.String(name))
	}
	return n, nil
}

func newLogger(w io.Writer, format string, verbose bool) (*slog.Logger, error) {
	if w == nil {
		w = os.Stderr
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be text or json, got %q", format)
}

// printSummary prints the phases, the counters and where the output went.
func printSummary(w io.Writer, res *mapreduce.Result) {
	if w == nil {
		w = os.Stdout
	}
	t := res.Timings
	reduce := "reduce " + round(t.Reduce).String()
	if res.MapOnly {
		reduce = "no reduce: map-only"
	}
	fmt.Fprintf(w, "%s: done in %s (plan %s, map %s, %s, commit %s)\n", res.Job,
		round(t.Total), round(t.Plan), round(t.Map), reduce, round(t.Commit))
	if secs := t.Total.Seconds(); secs > 0 {
		in := float64(res.Counters[mapreduce.MapInputBytes])
		fmt.Fprintf(w, "  %d map tasks (%d splits), %.1f MB in, %.1f MB/s, peak RSS driver %s, largest worker %s\n",
			res.MapTasks, res.Splits, in/1e6, in/1e6/secs, mib(res.DriverPeakRSS), mib(res.WorkerPeakRSS))
	}
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	for _, name := range res.Counters.Names() {
		fmt.Fprintf(tw, "  %s\t%d\t\n", name, res.Counters[name])
	}
	tw.Flush()
	fmt.Fprintf(w, "  output: %s (%d part files)\n", res.Output, len(res.Parts))
	if res.Merged != "" {
		fmt.Fprintf(w, "  merged: %s\n", res.Merged)
	}
	if res.KeptWorkDir != "" {
		fmt.Fprintf(w, "  work directory kept: %s (its spill runs; later jobs leave it, quern clean removes it)\n", res.KeptWorkDir)
	}
	if n := len(res.Skipped); n > 0 {
		fmt.Fprintf(w, "  skipped %d bad records (listed in _job.json)\n", n)
	}
	var retried int
	for _, t := range res.Tasks {
		if len(t.Attempts) > 1 {
			retried++
		}
	}
	if retried > 0 {
		fmt.Fprintf(w, "  %d tasks needed more than one attempt (see _job.json)\n", retried)
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}

// printPlan prints what --dry-run found.
func printPlan(w io.Writer, p *mapreduce.JobPlan) {
	c := p.Config
	fmt.Fprintf(w, "job %s, engine %s\n", p.Job, c.Engine)
	files := fmt.Sprintf("%d files", len(p.Files))
	if len(p.Files) == 1 {
		files = "1 file"
	}
	fmt.Fprintf(w, "inputs: %s, %s\n", files, bytesize.Approx(p.InputBytes))
	for i, f := range p.Files {
		if i == 10 {
			fmt.Fprintf(w, "  ... %d more\n", len(p.Files)-i)
			break
		}
		compression := f.Compression.String()
		if f.Guessed {
			// Left unopened by the plan: its map task decides by the
			// file's first bytes (input.File.Guessed).
			compression += " by its name"
		}
		fmt.Fprintf(w, "  %s (%s, %s, %s)\n", f.Path, bytesize.Approx(f.Size), f.Format, compression)
	}
	packed := ""
	if len(p.Tasks) != len(p.Splits) {
		packed = fmt.Sprintf(", %d splits packed", len(p.Splits))
	}
	fmt.Fprintf(w, "map tasks: %d (split size %s%s)\n", len(p.Tasks), mapreduce.FormatSize(c.SplitSize), packed)
	for i, t := range p.Tasks {
		if i == 10 {
			fmt.Fprintf(w, "  ... %d more\n", len(p.Tasks)-i)
			break
		}
		spooled := ""
		if i < p.Spooled {
			spooled = " (decompressed into chunks as the job runs, each chunk a map task)"
		}
		fmt.Fprintf(w, "  map-%05d %s%s\n", i, t, spooled)
	}
	if c.MapOnly {
		fmt.Fprintf(w, "reduce tasks: none (map-only: each map task writes a part)\n")
	} else {
		fmt.Fprintf(w, "reduce tasks: %d\n", c.Reducers)
	}
	fmt.Fprintf(w, "workers: %d, sort buffer %s, spill compression %s, merge fan-in %d\n",
		c.Workers, mapreduce.FormatSize(c.SortBuffer), c.SpillCompression, c.MergeFanIn)
	switch above := c.SplitAbove(); {
	case c.MapOnly:
		fmt.Fprintf(w, "rebalance: off (a map-only job's parts follow its input's order)\n")
	case above == 0:
		fmt.Fprintf(w, "rebalance: off\n")
	default:
		fmt.Fprintf(w, "rebalance: an idle worker takes over part of a running map task with %s or more left\n",
			mapreduce.FormatSize(above))
	}
	fmt.Fprintf(w, "memory: about %s per worker, %s in all\n",
		bytesize.Approx(p.MemoryPerWorker), bytesize.Approx(p.MemoryPerWorker*int64(c.Workers)))
	fmt.Fprintf(w, "output: %s (%s)\n", c.Output, c.OutputFormat)
	for _, warning := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func mib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
}

// appsCommand lists the registered apps.
func appsCommand() *cli.Command {
	return &cli.Command{
		Name:  "apps",
		Usage: "list the registered apps",
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := strayArgs(cmd, 0, "apps takes none"); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.Root().Writer, 2, 0, 2, ' ', 0)
			for _, j := range mapreduce.Jobs() {
				var params []string
				for _, p := range j.Params {
					params = append(params, "--"+p.Name)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", j.Name, j.Description, strings.Join(params, " "))
			}
			listPipelines(tw)
			return tw.Flush()
		},
	}
}
