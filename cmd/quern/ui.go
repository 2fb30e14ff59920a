package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/internal/jobhistory"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/webui"
)

// uiFlags are the flags of `quern run APP` for the live status page.
func uiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "ui", Usage: "serve a live status page of the job at `ADDR` (HOST:PORT; :PORT or PORT listens on 127.0.0.1 only; :0 picks a port)"},
		&cli.DurationFlag{Name: "ui-linger", Usage: "keep the status page up this long after the job ends (with --ui)"},
	}
}

// startLiveUI serves the job's status page when --ui is given, and returns
// a function to call when the job is over: it keeps the page up for
// --ui-linger (or until ctx ends) and then stops the server.
func startLiveUI(ctx context.Context, cmd *cli.Command, cfg *mapreduce.Config) (stop func(), err error) {
	addr := cmd.String("ui")
	if addr == "" {
		if cmd.IsSet("ui-linger") {
			return nil, usagef("--ui-linger needs --ui")
		}
		return func() {}, nil
	}
	srv, err := webui.Listen(addr)
	if err != nil {
		return nil, usagef("--ui: %v", err)
	}
	cfg.OnStart = srv.Live()
	stderr := errWriter(cmd)
	fmt.Fprintf(stderr, "quern: status page at %s\n", srv.URL())
	return func() {
		if d := cmd.Duration("ui-linger"); d > 0 {
			fmt.Fprintf(stderr, "quern: status page stays up for %s at %s\n", d, srv.URL())
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		srv.Close()
	}, nil
}

func errWriter(cmd *cli.Command) io.Writer {
	if w := cmd.Root().ErrWriter; w != nil {
		return w
	}
	return os.Stderr
}

// hasNoJob reports whether the folder history has no entry yet, hidden
// ones (being written) aside.
func hasNoJob(history string) bool {
	entries, err := os.ReadDir(history)
	return err == nil && !slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return !strings.HasPrefix(e.Name(), ".") })
}

// uiCommand serves the pages of finished jobs.
func uiCommand() *cli.Command {
	return &cli.Command{
		Name:      "ui",
		Usage:     "serve the status pages of finished jobs, with a list to compare them",
		ArgsUsage: "DIR...",
		Description: "Each DIR is a job's output directory (it holds _job.json) or a folder of them;\n" +
			"the jobs that appear in a folder later are listed when the page is loaded again.\n" +
			"With no DIR, the job history: every job run with the environment variable " + jobhistory.Env + "\n" +
			"naming a folder leaves its report there, listed as it ends.\n" +
			"Example:\n\n   quern ui --addr :8080 runs/\n   export " + jobhistory.Env + "=~/.quern-history; quern run …; quern ui",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:4040", Usage: "listen on `ADDR` (HOST:PORT; :PORT or PORT listens on 127.0.0.1 only)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			dirs := cmd.Args().Slice()
			var jobs []webui.FinishedJob
			var skipped []error
			var err error
			if len(dirs) == 0 {
				// The job history, which may have no job yet: its jobs
				// are listed as they end.
				history := jobhistory.Folder()
				if history == "" {
					return usagef("ui: name at least one job output directory or a folder of them, or set %s to keep a job history", jobhistory.Env)
				}
				if err := os.MkdirAll(history, 0o755); err != nil {
					return usagef("ui: job history (%s): %v", jobhistory.Env, err)
				}
				dirs = []string{history}
				if jobs, skipped, err = webui.LoadHistory(dirs); err != nil && !hasNoJob(history) {
					return usagef("ui: %v", err)
				}
			} else if jobs, skipped, err = webui.LoadHistory(dirs); err != nil {
				return usagef("ui: %v", err)
			}
			for _, err := range skipped {
				fmt.Fprintf(cmd.Root().ErrWriter, "quern: ui: skipped: %v\n", err)
			}
			srv, err := webui.Listen(cmd.String("addr"))
			if err != nil {
				return usagef("ui: %v", err)
			}
			defer srv.Close()
			srv.AddFinished(jobs)
			srv.Follow(dirs)
			fmt.Fprintf(cmd.Root().Writer, "serving %d jobs at %s (Ctrl-C to stop)\n", len(jobs), srv.URL())
			<-ctx.Done()
			return nil
		},
	}
}
