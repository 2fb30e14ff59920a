// Package worker is the entry point of a Quern binary that a Beam runner
// starts as an SDK worker. Call Init at the top of main, where a Beam
// program calls beam.Init.
//
// Beam's own worker entry (the init hook of the SDK's harness/init
// package, v2.77.0) serves the runner until the runner closes the control
// stream, then prints "Worker exited successfully!" and sleeps forever: a
// worker that Beam's boot program started (the EXTERNAL worker pool of a
// Flink or Spark sidecar, the DOCKER environment) then stays orphaned
// under PID 1 once the pool kills boot, with its memory and its copy of
// the binary in /tmp/binNNN/worker. Init serves the worker itself and
// leaves nothing behind:
//
//   - the process exits when the runner ends the job (the control stream
//     closes), when its parent dies (boot killed by the pool's StopWorker)
//     or on SIGTERM;
//   - the copy of the binary that boot made for this worker is removed on
//     the way out, and so are the temporary directories of the bundles
//     the runner abandoned (a job that failed or was cancelled), which
//     those bundles could not remove (package scratch).
//
// Init also serves a worker started by Beam's PROCESS environment, which
// runs the configured command with --id and --provision_endpoint only: the
// binary asks the provision service for the other endpoints and the
// pipeline options (as boot does), and runs the worker itself, without
// staging or copying anything. Prism 2.77 passes the id with literal
// quotes (--id='job-001[go]_...'); Init removes them.
package worker

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/container/tools"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/harness"

	// Registers the worker flags (--worker, --id, --control_endpoint, ...)
	// and Beam's own worker hook, which Init switches off.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/harness/init"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"

	"github.com/quern-dev/quern/beam/internal/scratch"
)

// The flags of Beam's PROCESS environment and of boot that the Go harness
// does not define: a runner may pass them to a binary it starts directly.
var (
	provisionEndpoint = flag.String("provision_endpoint", "", "provision service of the runner (set by Beam's PROCESS environment)")
	_                 = flag.String("artifact_endpoint", "", "artifact service of the runner (unused: the worker is this binary)")
)

// Init turns the process into a Beam SDK worker if a runner started it as
// one (flags --worker, or --id with --provision_endpoint), serves the
// worker and exits; otherwise it calls beam.Init and returns. Flags must
// be parsed before (flag.Parse), as for beam.Init.
func Init() {
	mode := workerMode()
	if mode == "" {
		beam.Init()
		return
	}
	// Beam's hook would serve the worker and then sleep forever; this
	// package serves it instead.
	must(flag.Set("worker", "false"))
	beam.Init()
	code := 0
	if err := serve(mode); err != nil {
		fmt.Fprintf(os.Stderr, "quern worker %s: %v\n", flagValue("id"), err)
		code = 1
	}
	scratch.RemoveAll()
	removeBootCopy()
	os.Exit(code)
}

// workerMode tells how a runner started this process: "worker" (--worker,
// by boot or a loopback pool), "process" (Beam's PROCESS environment),
// or "" when it is not a worker.
func workerMode() string {
	switch {
	case flagValue("worker") == "true":
		return "worker"
	case *provisionEndpoint != "" && flagValue("id") != "":
		return "process"
	}
	return ""
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// serve runs the SDK harness until the runner closes the control stream.
// Meanwhile a watcher ends the process if its parent goes away or a
// signal asks it to stop.
func serve(mode string) error {
	watch(parentPoll)
	ctx := context.Background()
	id := strings.Trim(flagValue("id"), `'"`) // Prism's PROCESS environment quotes it
	ctx = grpcx.WriteWorkerID(ctx, id)
	logging, control := flagValue("logging_endpoint"), flagValue("control_endpoint")
	optionsJSON := flagValue("options")
	if file := os.Getenv("PIPELINE_OPTIONS_FILE"); file != "" { // boot's way
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read pipeline options: %w", err)
		}
		optionsJSON = string(b)
	}
	if mode == "process" {
		info, err := tools.ProvisionInfo(ctx, *provisionEndpoint)
		if err != nil {
			return fmt.Errorf("provision info from %s: %w", *provisionEndpoint, err)
		}
		logging, control = info.GetLoggingEndpoint().GetUrl(), info.GetControlEndpoint().GetUrl()
		if optionsJSON, err = tools.ProtoToJSON(info.GetPipelineOptions()); err != nil {
			return fmt.Errorf("pipeline options: %w", err)
		}
	}
	if optionsJSON != "" {
		var opt runtime.RawOptionsWrapper
		if err := json.Unmarshal([]byte(optionsJSON), &opt); err != nil {
			return fmt.Errorf("parse pipeline options: %w", err)
		}
		runtime.GlobalOptions.Import(opt.Options)
	}
	return harness.MainWithOptions(ctx, logging, control, harness.Options{
		StatusEndpoint:     os.Getenv("STATUS_ENDPOINT"),
		RunnerCapabilities: strings.Fields(os.Getenv("RUNNER_CAPABILITIES")),
	})
}

// parent is the process that started the worker (boot, a worker pool, or
// the runner itself).
var parent = os.Getppid()

// parentPoll is how often watch looks for the worker's parent.
const parentPoll = 500 * time.Millisecond

// watch ends the process when the process that started it exits (the
// worker is then re-parented, and its parent id changes) or on SIGTERM or
// an interrupt. A worker pool stops a worker by killing boot, whose child
// the worker is, so without this the worker would outlive its job. The
// harness may be blocked in a call that no context reaches, so watch exits
// the process itself rather than asking the harness to return.
//
// watch catches the signals before it returns and watches in a goroutine
// of its own, so that a signal sent once it has returned stops the worker
// this way, with its clean-up, rather than by the signal's default action.
func watch(poll time.Duration) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go stopOn(sig, poll)
}

// stopOn is watch's loop: it exits the process on a signal from sig or
// when the parent has gone.
func stopOn(sig <-chan os.Signal, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "quern worker: %v; stopping\n", s)
		case <-t.C:
			if os.Getppid() == parent {
				continue
			}
			fmt.Fprintf(os.Stderr, "quern worker: parent process %d exited; stopping\n", parent)
		}
		scratch.RemoveAll()
		removeBootCopy()
		os.Exit(1)
	}
}

// removeBootCopy removes the copy of this binary that Beam's boot program
// made for this one worker (boot.go, v2.77.0: os.MkdirTemp("/tmp/",
// "bin*") + "/worker"), and its directory. Nothing else runs it, and boot
// makes a new copy for every worker it starts. The staged original that
// boot downloaded (SEMI_PERSIST_DIR/staged/1-NAME) is shared by the
// workers that boot starts for later jobs, each of which overwrites it, so
// it is left alone.
func removeBootCopy() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	dir := filepath.Dir(exe)
	if filepath.Base(exe) != "worker" || !strings.HasPrefix(filepath.Base(dir), "bin") || filepath.Dir(dir) != bootCopyRoot {
		return
	}
	os.Remove(exe)
	os.Remove(dir) // only when empty
}

// bootCopyRoot is where boot makes its bin* directories (a test moves it).
var bootCopyRoot = "/tmp"
