// Command quern runs Quern's bundled MapReduce apps and generates data for them.
//
//	quern gen text --size 64MiB --output corpus.txt
//	quern run wordcount --input corpus.txt --output out
//	quern apps
//
// Exit status: 0 on success, 1 when a job fails, 2 for a usage error
// (unknown app, bad flag value, unusable input or output path).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/mapreduce"
)

// Exit statuses.
const (
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	// In a worker process Main serves tasks and exits; it must run before
	// anything else touches flags or stdout.
	mapreduce.Main()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newApp().Run(ctx, os.Args)
	stop()
	os.Exit(exitStatus(err))
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "quern:", err)
	var usage usageError
	switch {
	case errors.As(err, &usage), errors.Is(err, mapreduce.ErrConfig):
		return exitUsage
	}
	var exitErr cli.ExitCoder
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	return exitFailed
}

// usageError marks errors in how quern was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func newApp() *cli.Command {
	return &cli.Command{
		Name:                  "quern",
		Usage:                 "MapReduce on all the cores of one machine",
		EnableShellCompletion: true,
		Commands: []*cli.Command{
			runCommand(),
			appsCommand(),
			genCommand(),
			benchCommand(),
		},
		OnUsageError: func(_ context.Context, _ *cli.Command, err error, _ bool) error {
			return usageError{err}
		},
	}
}
