package beamjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
)

// pipelineMu makes the pipelines of one process run one at a time: Beam's
// options are process-wide flags (the job name set below, the endpoint
// that prism.Execute sets when it starts its job server), and the
// loopback file clean-up below compares the temporary directory before
// and after a run.
var pipelineMu sync.Mutex

// cancelWait bounds how long a cancelled run waits for the runner to
// cancel its job, from the Ctrl-C; past it the job is reported as
// possibly still running. A variable for tests.
var cancelWait = 30 * time.Second

// runPipeline runs p with exec under the job name "quern-" + run (unless
// the user named the job with Beam's --job_name), and, if ctx is cancelled
// (Ctrl-C), cancels the job on the runner before it returns ctx's error.
//
// Beam's universal launcher (runnerlib, SDK v2.77.0) returns as soon as
// its context is cancelled without telling the job service, so the job
// went on without its launcher: on a cluster it kept running, and on
// Prism a bundle waiting on the loopback workers, which stop with the
// launcher, waited for good (seen as goroutines left after beamjob's
// tests). So the launcher runs under a context of its own, and on Ctrl-C
// the job is first cancelled through the job service while the launcher
// and its loopback workers are still there to see it end; only then is the
// launcher stopped (which also stops one that had not yet submitted the
// job). The job service is asked again once the launcher has returned, for
// a job submitted in between. Where the endpoint is not known before the
// run (in-process Prism, which sets Beam's endpoint flag when it starts
// its job server, on the goroutine that runs the pipeline), only that
// second asking is done. A runner without a job service endpoint
// (Dataflow) is not told; the user cancels the job there.
//
// Then the empty beamloopbackworker-* file that the SDK creates in
// os.TempDir() for every pipeline run in loopback mode and never removes
// (runnerlib/execute.go) is removed: in loopback mode the workers run in
// this process, so the file is only a name in the pipeline's environment,
// and each `quern-beam run` left one in /tmp. Only empty files of that
// pattern that appeared during the run are removed.
func runPipeline(ctx context.Context, exec Executor, p *beam.Pipeline, run string, logger *slog.Logger) error {
	pipelineMu.Lock()
	defer pipelineMu.Unlock()
	name := *jobopts.JobName
	if name == "" {
		name = "quern-" + run
		*jobopts.JobName = name
		defer func() { *jobopts.JobName = "" }()
	}
	pattern := filepath.Join(os.TempDir(), "beamloopbackworker-*")
	before, _ := filepath.Glob(pattern) // a bad pattern is impossible here

	endpoint := *jobopts.Endpoint // read before exec may write it
	launcherCtx, stopLauncher := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLauncher()
	// Both askings share one deadline, cancelWait from the Ctrl-C.
	var deadline time.Time
	var cancelErr error
	cancelled := make(chan struct{})
	stopWatching := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		deadline = time.Now().Add(cancelWait)
		cancelErr = cancelOnRunner(endpoint, name, deadline)
		stopLauncher()
	})
	_, err := exec(launcherCtx, p)
	if !stopWatching() {
		<-cancelled
	}
	if ctx.Err() != nil {
		if deadline.IsZero() { // cancelled after the launcher returned
			deadline = time.Now().Add(cancelWait)
		}
		if cerr := errors.Join(cancelErr, cancelOnRunner(*jobopts.Endpoint, name, deadline)); cerr != nil {
			logger.Warn("the cancelled job may still be running on the runner", "job_name", name, "error", cerr)
		}
		if err == nil {
			// The launcher reports a job cancelled on the runner as
			// done (runnerlib's WaitForCompletion): not to be committed.
			err = ctx.Err()
		}
	}
	after, _ := filepath.Glob(pattern)
	for _, f := range after {
		if fi, serr := os.Lstat(f); serr == nil && fi.Mode().IsRegular() && fi.Size() == 0 && !slices.Contains(before, f) {
			os.Remove(f)
		}
	}
	return err
}

// cancelOnRunner cancels every job named name that the job service at
// endpoint has not ended, and waits until each has ended, giving up at
// deadline. No endpoint means no job service to tell.
func cancelOnRunner(endpoint, name string, deadline time.Time) error {
	if endpoint == "" {
		return nil
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cc, err := grpcx.Dial(ctx, endpoint, time.Until(deadline))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := jobpb.NewJobServiceClient(cc)
	jobs, err := unended(ctx, client, name)
	if err != nil {
		return err
	}
	for _, job := range jobs {
		id := job.GetJobId()
		if _, err := client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: id}); err != nil {
			return fmt.Errorf("cancelling job %s: %w", id, err)
		}
		if err := waitEnded(ctx, client, id); err != nil {
			return fmt.Errorf("job %s: %w", id, err)
		}
	}
	return nil
}

// unended lists the jobs of the job service that have not ended, those
// named name, or all of them for "".
func unended(ctx context.Context, client jobpb.JobServiceClient, name string) ([]*jobpb.JobInfo, error) {
	jobs, err := client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing the runner's jobs: %w", err)
	}
	return slices.DeleteFunc(jobs.GetJobInfo(), func(job *jobpb.JobInfo) bool {
		return (name != "" && job.GetJobName() != name) || ended(job.GetState())
	}), nil
}

// waitEnded follows a job's state until it is one that ends the job.
func waitEnded(ctx context.Context, client jobpb.JobServiceClient, id string) error {
	stream, err := client.GetStateStream(ctx, &jobpb.GetJobStateRequest{JobId: id})
	if err != nil {
		return err
	}
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return nil // the service ends the stream with the job
		}
		if err != nil {
			return fmt.Errorf("waiting for the cancellation: %w", err)
		}
		if ended(ev.GetState()) {
			return nil
		}
	}
}

// ended reports whether a job in state s runs no more.
func ended(s jobpb.JobState_Enum) bool {
	switch s {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED,
		jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}
