// Command quern runs Quern's bundled MapReduce apps and generates data for them.
//
//	quern gen text --size 64MiB --output corpus.txt
//	quern run wordcount --input corpus.txt --output out
//	quern apps
//
// Exit status: 0 on success, 1 when a job fails, 2 for a usage error
// (unknown app, bad flag value, unusable input or output path), 130 after
// SIGINT and 143 after SIGTERM (the job's workers and temporary files are
// gone by then). A signal that comes after the job committed its output
// does not undo the success: the status is 0, and quern says that
// clean-up was cut short.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
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
	os.Exit(run(os.Args))
}

// run runs the command line args (args[0] is the program name) and returns
// the exit status. It is main without the exit, so that tests can run the
// CLI in a process of their own making.
func run(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	done := make(chan struct{})
	defer close(done)
	var caught atomic.Value
	go func() {
		// The first signal cancels the job, whose workers and temporary
		// files then go; a second one gives up waiting for that.
		select {
		case s := <-signals:
			caught.Store(s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-signals:
			os.Exit(signalStatus(s))
		case <-done:
		}
	}()
	err := newApp().Run(ctx, args)
	if s, ok := caught.Load().(os.Signal); ok && err == nil {
		// The command finished all the same: for a job, its output is
		// committed and complete. Only the clean-up after it (work
		// files, worker exits) may have been cut short.
		fmt.Fprintf(os.Stderr, "quern: %s came after the command had finished; it succeeded, but its clean-up may have been cut short (run 'quern clean' to remove leftover work files)\n", signalName(s))
		return 0
	}
	if s, ok := caught.Load().(os.Signal); ok {
		fmt.Fprintf(os.Stderr, "quern: stopped by %s\n", signalName(s))
		return signalStatus(s)
	}
	return exitStatus(err)
}

// signalName names s as a shell user knows it: "stopped by SIGTERM
// (terminated)", where the signal's own String gave "stopped by
// terminated".
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT (interrupt)"
	case syscall.SIGTERM:
		return "SIGTERM (terminated)"
	}
	return s.String()
}

// signalStatus is the shell's status for a process ended by s: 128 + s.
func signalStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitFailed
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "quern:", message(err))
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

// strayArgs refuses the arguments of cmd past the first n, which no flag
// took: the flag parser leaves them, and a command that never read them
// went on without them. hint says where they belong.
func strayArgs(cmd *cli.Command, n int, hint string) error {
	args := cmd.Args().Slice()
	if len(args) <= n {
		return nil
	}
	stray := args[n:]
	shown := make([]string, 0, 3)
	for _, a := range stray[:min(len(stray), 3)] {
		shown = append(shown, strconv.Quote(a))
	}
	list := strings.Join(shown, " ")
	if len(stray) > len(shown) {
		list += fmt.Sprintf(" and %d more", len(stray)-len(shown))
	}
	noun := "argument"
	if len(stray) > 1 {
		noun += "s"
	}
	return usagef("%s: no flag takes the %s %s; %s", cmd.Name, noun, list, hint)
}

func newApp() *cli.Command {
	run := runCommand()
	app := &cli.Command{
		Name:                  "quern",
		Usage:                 "MapReduce on all the cores of one machine",
		Version:               mapreduce.Version(),
		EnableShellCompletion: true,
		// Flags after an unknown command's name are that command's: stop
		// parsing at the name so the error names the command, not the
		// flag (quern wordcount -i in.txt).
		StopOnNthArg: &one,
		Action: func(_ context.Context, cmd *cli.Command) error {
			name := cmd.Args().First()
			switch {
			case name == "":
				return cli.ShowRootCommandHelp(cmd)
			case run.Command(name) != nil:
				return usagef("no command %q: an app runs with 'quern run %s'", name, name)
			}
			return usagef("no command %q (see 'quern --help')", name)
		},
		Commands: []*cli.Command{
			run,
			streamCommand(),
			appsCommand(),
			genCommand(),
			catCommand(),
			cleanCommand(),
			validateSortCommand(),
			benchCommand(),
			uiCommand(),
		},
	}
	// cli calls the hook of the command whose flags failed, not the
	// root's, so every command needs it for a bad or missing flag of
	// `quern run APP` to exit with status 2.
	var mark func(parent, c *cli.Command)
	mark = func(parent, c *cli.Command) {
		c.OnUsageError = func(_ context.Context, _ *cli.Command, err error, _ bool) error {
			return usageError{err}
		}
		if parent != nil && len(c.Commands) == 0 {
			// cli reads --help after an argument (quern gen text
			// --help, quern cat out --help) as a request for the help
			// of a subcommand named by the argument, and a command
			// without subcommands answered "No help topic for 'text'"
			// with exit status 3 (urfave/cli#2126). Show the
			// command's own help, as --help before the argument does.
			c.CommandNotFound = func(ctx context.Context, _ *cli.Command, _ string) {
				_ = cli.ShowCommandHelp(ctx, parent, c.Name)
			}
		}
		for _, sub := range c.Commands {
			mark(c, sub)
		}
	}
	mark(nil, app)
	return app
}
