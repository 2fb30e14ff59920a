package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/apps/joinagg"
	"github.com/quern-dev/quern/apps/pagerank"
	"github.com/quern-dev/quern/apps/topwords"
	"github.com/quern-dev/quern/internal/bytesize"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

func init() {
	appExamples["joinagg"] = joinagg.Example
	appExamples["pagerank"] = pagerank.Example
	appExamples["topwords"] = topwords.Example
}

// pipelineCommands are `quern run PIPELINE` for every registered pipeline:
// the flags of a job's command, and an action that runs the pipeline.
func pipelineCommands() []*cli.Command {
	var cmds []*cli.Command
	for _, p := range pipeline.All() {
		info := mapreduce.JobInfo{Name: p.Name, Description: p.Description, Params: p.Params}
		cmd := jobCommand(info)
		// A pipeline's stages map their planned input whole: no task is
		// split for an idle worker (internal/driver/split.go).
		cmd.Flags = slices.DeleteFunc(cmd.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), "rebalance") })
		resume := &cli.BoolFlag{Name: "resume", Usage: "reuse the stages a killed run into the same output committed, if their input and configuration are unchanged"}
		setCategory(resume, "Common options")
		cmd.Flags = append(cmd.Flags, resume)
		cmd.Action = func(ctx context.Context, cmd *cli.Command) error {
			cfg, err := configFrom(cmd, info)
			if err != nil {
				return err
			}
			if cfg.MapOnly {
				return usagef("--reducers 0: %s is a pipeline whose stages group by key; it cannot run map-only", p.Name)
			}
			if cmd.Bool("dry-run") {
				return p.PrintPlan(cmd.Root().Writer, cfg)
			}
			stopUI, err := startLiveUI(ctx, cmd, &cfg)
			if err != nil {
				return err
			}
			stop := showProgress(cmd, &cfg)
			run := p.Run
			if cmd.Bool("resume") {
				run = p.Resume
			}
			res, err := run(ctx, cfg)
			stop()
			stopUI()
			if err != nil {
				return err
			}
			if !cmd.Bool("quiet") {
				printPipelineSummary(cmd.Root().Writer, res)
			}
			return nil
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// printPipelineSummary prints each stage's time, rounds and data moved.
func printPipelineSummary(w io.Writer, res *pipeline.Result) {
	fmt.Fprintf(w, "%s: done in %s\n", res.Pipeline, round(res.Elapsed))
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  stage\trounds\ttasks\tstarted\ttime\tinput records\tshuffled\tread unshuffled\toutput records\t\n")
	for _, s := range res.Stages {
		c := s.Counters
		in := c[mapreduce.MapInputRecords] + c[mapreduce.ReduceInputRecords]
		out := c[mapreduce.MapOutputRecords] + c[mapreduce.ReduceOutputRecords]
		// Stages that ran side by side have overlapping start and time;
		// a stage --resume reused did not run (its figures are the run's
		// that made its output).
		started, took := "+"+round(s.Start).String(), round(s.Elapsed).String()
		if s.Reused {
			started, took = "reused", "-"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t\n", s.Name, max(s.Rounds, 1), s.Tasks, started, took,
			in, bytesize.Approx(c[mapreduce.ShuffleBytes]), bytesize.Approx(c[pipeline.LocalBytes]), out)
	}
	tw.Flush()
	fmt.Fprintf(w, "  output: %s (%d part files)\n", res.Output, len(res.Parts))
	if res.Merged != "" {
		fmt.Fprintf(w, "  merged: %s\n", res.Merged)
	}
	if res.KeptWorkDir != "" {
		fmt.Fprintf(w, "  work directory kept: %s (its stages' runs; later jobs leave it, quern clean removes it)\n", res.KeptWorkDir)
	}
	if n := len(res.Skipped); n > 0 {
		fmt.Fprintf(w, "  skipped %d bad records (listed in _job.json)\n", n)
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}

// listPipelines adds the pipelines to `quern apps`.
func listPipelines(tw *tabwriter.Writer) {
	for _, p := range pipeline.All() {
		var params string
		for _, prm := range p.Params {
			params += "--" + prm.Name + " "
		}
		fmt.Fprintf(tw, "%s\t%s (pipeline)\t%s\n", p.Name, p.Description, params)
	}
}
