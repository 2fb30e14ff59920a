package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/bench"
	"github.com/quern-dev/quern/mapreduce"
)

// benchCommand runs the benchmark suite against this very binary, so that
// `quern bench` measures the quern that the user has.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "run workloads under Quern and its baselines, check their answers agree, and compare speed",
		Description: "Generates seeded input (cached), runs each workload under Quern and under its baselines\n" +
			"alternately --runs times, and prints median wall time, MB/s, Quern's speedup over each\n" +
			"baseline (each with its range over the runs), peak RSS and spill bytes. Writes results.json,\n" +
			"results.md and throughput.svg to --out.\n" +
			"Exits 1 when any system's answer differs from Quern's or a system fails.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Value: "1GiB", Usage: "input size per workload (64MiB, 1GiB)"},
			&cli.StringFlag{Name: "workloads", Value: strings.Join(bench.Workloads, ","), Usage: "comma-separated workloads to run"},
			&cli.IntFlag{Name: "runs", Value: 3, Usage: "runs per system and workload; the report keeps the median"},
			&cli.IntFlag{Name: "workers", DefaultText: "number of CPUs", Usage: "Quern workers and baseline parallelism"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "generator seed"},
			&cli.StringFlag{Name: "out", Usage: "`DIR` for results.json, results.md and throughput.svg (default: bench/out in the source tree)"},
			&cli.StringFlag{Name: "cache", Value: bench.DefaultCache(), Usage: "`DIR` for generated data, built baselines and scratch"},
			&cli.StringFlag{Name: "source", Usage: "quern source tree to build the Go and DuckDB baselines from (default: found above the working directory)"},
			&cli.StringFlag{Name: "duckdb", Usage: "a built DuckDB baseline binary, or 'off' (default: build bench/duckdb into the cache)"},
			&cli.BoolFlag{Name: "scaling", Usage: "also run Quern with 1, 2 and 4 workers"},
			&cli.BoolFlag{Name: "sweep", Usage: "also run Quern over sort-buffer sizes and spill compressions (zstd, lz4, none)"},
			&cli.BoolFlag{Name: "cpuprofile", Usage: "write CPU profiles of Quern's driver and workers (last run) under --out/profiles"},
			&cli.BoolFlag{Name: "memprofile", Usage: "write heap profiles of Quern's driver and workers (last run) under --out/profiles"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the table"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := strayArgs(cmd, 0, "name workloads with --workloads a,b"); err != nil {
				return err
			}
			size, err := mapreduce.ParseSize(cmd.String("size"))
			if err != nil {
				return usagef("--size: %v", err)
			}
			if cmd.Int("runs") < 1 {
				return usagef("--runs must be at least 1, got %d", cmd.Int("runs"))
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find the quern binary: %w", err)
			}
			var workloads []string
			for _, w := range strings.Split(cmd.String("workloads"), ",") {
				if w = strings.TrimSpace(w); w != "" {
					if !slices.Contains(bench.Workloads, w) {
						return usagef("--workloads: unknown workload %q (have %s)", w, strings.Join(bench.Workloads, ", "))
					}
					workloads = append(workloads, w)
				}
			}
			cfg := bench.Config{
				Size: size, Workloads: workloads, Runs: cmd.Int("runs"), Seed: cmd.Uint64("seed"),
				Workers: cmd.Int("workers"), Cache: cmd.String("cache"), Out: cmd.String("out"),
				Quern: self, SourceDir: cmd.String("source"), DuckDB: cmd.String("duckdb"),
				Scaling: cmd.Bool("scaling"), Sweep: cmd.Bool("sweep"),
				CPUProfile: cmd.Bool("cpuprofile"), MemProfile: cmd.Bool("memprofile"),
				Command: "quern " + strings.Join(os.Args[1:], " "),
			}
			if !cmd.Bool("quiet") {
				cfg.Log = cmd.Root().ErrWriter
				if cfg.Log == nil {
					cfg.Log = os.Stderr
				}
			}
			rep, err := bench.Run(ctx, cfg)
			if rep != nil {
				w := cmd.Root().Writer
				if w == nil {
					w = os.Stdout
				}
				rep.WriteText(w)
			}
			if errors.Is(err, bench.ErrMismatch) {
				return cli.Exit("bench: some systems failed or disagreed with Quern (see the table)", exitFailed)
			}
			return err
		},
	}
}
