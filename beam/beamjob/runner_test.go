package beamjob

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// TestCancelledRunCancelsItsJob: a run whose context is cancelled (Ctrl-C)
// cancels its job on the runner's job service, and only its job, while
// Beam's launcher still runs where the service's endpoint is known (the
// launcher sees the job end, as Prism's loopback workers must), and once
// the launcher has returned otherwise; it returns once the job has ended
// there, with the cancellation's error even when the launcher reports the
// cancelled job as done. A run that is not cancelled cancels nothing. The
// job service is a fake that ends a job a moment after it is cancelled;
// the executor submits a job and returns when the job ends or its
// context is cancelled, as Beam's launcher does, never telling the
// service.
func TestCancelledRunCancelsItsJob(t *testing.T) {
	svc := startFakeJobService(t)
	svc.submit("someone else's", jobpb.JobState_RUNNING)
	const (
		inFlight      = iota // cancelled after the job was submitted
		beforeSubmit         // cancelled before the launcher submitted the job
		endpointLater        // the launcher sets the endpoint (in-process Prism)
		notCancelled
	)
	for _, c := range []struct {
		name     string
		when     int
		jobName  string // --job_name, or "" for Quern's
		wantName string
	}{
		{"cancelled while the job runs", inFlight, "", "quern-run1"},
		{"cancelled, named by the user", inFlight, "mine", "mine"},
		{"cancelled before the job was submitted", beforeSubmit, "", "quern-run1"},
		{"cancelled, endpoint set by the launcher", endpointLater, "", "quern-run1"},
		{"not cancelled", notCancelled, "", "quern-run1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			*jobopts.JobName = c.jobName
			defer func() { *jobopts.JobName = "" }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			endpoint := *jobopts.Endpoint
			if c.when == endpointLater {
				*jobopts.Endpoint = ""
			}
			var id string
			var launcherSawJobEnd bool
			exec := func(launcherCtx context.Context, _ *beam.Pipeline) (beam.PipelineResult, error) {
				switch c.when {
				case notCancelled:
					id = svc.submit(*jobopts.JobName, jobpb.JobState_DONE)
					return nil, nil
				case beforeSubmit:
					<-launcherCtx.Done()
					id = svc.submit(*jobopts.JobName, jobpb.JobState_RUNNING)
					return nil, launcherCtx.Err()
				case endpointLater:
					*jobopts.Endpoint = endpoint
				}
				id = svc.submit(*jobopts.JobName, jobpb.JobState_RUNNING)
				cancel()
				launcherSawJobEnd = svc.waitEnded(launcherCtx, id)
				if launcherSawJobEnd {
					return nil, nil // runnerlib's WaitForCompletion on CANCELLED
				}
				return nil, launcherCtx.Err()
			}
			if c.when == beforeSubmit {
				cancel()
			}
			svc.cancelled = nil
			err := runPipeline(ctx, exec, nil, "run1", slog.New(slog.DiscardHandler))
			require.Equal(t, c.jobName, *jobopts.JobName, "the user's job name is changed")
			require.Equal(t, c.wantName, svc.name(id))
			if c.when == notCancelled {
				require.NoError(t, err)
				require.Empty(t, svc.cancelled, "a run that went on cancelled a job")
				return
			}
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, []string{id}, svc.cancelled, "jobs cancelled")
			require.Equal(t, jobpb.JobState_CANCELLED, svc.state(id), "the run returned before its job ended")
			require.Equal(t, c.when == inFlight, launcherSawJobEnd,
				"whether the launcher was still running when its job ended")
		})
	}
	require.Equal(t, jobpb.JobState_RUNNING, svc.state("job-0"), "another job was cancelled")
}

// TestCancelWaitIsBounded: a job service that never ends a cancelled job
// keeps Ctrl-C waiting cancelWait from the signal, then the run returns
// the cancellation, warning that the job may still be running. The two
// askings (while the launcher runs, and after) share that one deadline:
// the second finds it passed and asks nothing.
func TestCancelWaitIsBounded(t *testing.T) {
	svc := startFakeJobService(t)
	svc.stuck = true
	defer func(wait time.Duration) { cancelWait = wait }(cancelWait)
	cancelWait = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exec := func(launcherCtx context.Context, _ *beam.Pipeline) (beam.PipelineResult, error) {
		svc.submit(*jobopts.JobName, jobpb.JobState_RUNNING)
		cancel()
		<-launcherCtx.Done()
		return nil, launcherCtx.Err()
	}
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- runPipeline(ctx, exec, nil, "run1", slog.New(slog.NewTextHandler(&logs, nil))) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("a cancelled run still waits for a job service that never ends its job")
	}
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, logs.String(), "the cancelled job may still be running")
	require.Contains(t, logs.String(), "job_name=quern-run1")
	require.Equal(t, 1, svc.listings, "the asking after the launcher returned had a deadline of its own")
}

// fakeJobService is a job service holding jobs in memory; a cancelled
// job ends (CANCELLED) on a goroutine of its own, after Cancel returns.
type fakeJobService struct {
	jobpb.UnimplementedJobServiceServer
	mu        sync.Mutex
	changed   *sync.Cond
	jobs      []*jobpb.JobInfo // job i has id "job-i"
	cancelled []string
	listings  int  // GetJobs calls
	stuck     bool // a cancelled job stays CANCELLING
}

// startFakeJobService serves a fake job service at Beam's endpoint until
// the test ends.
func startFakeJobService(t *testing.T) *fakeJobService {
	svc := &fakeJobService{}
	svc.changed = sync.NewCond(&svc.mu)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	jobpb.RegisterJobServiceServer(srv, svc)
	go srv.Serve(lis)
	endpoint := *jobopts.Endpoint
	*jobopts.Endpoint = lis.Addr().String()
	t.Cleanup(func() {
		*jobopts.Endpoint = endpoint
		srv.Stop()
	})
	return svc
}

func (s *fakeJobService) submit(name string, state jobpb.JobState_Enum) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := "job-" + string(rune('0'+len(s.jobs)))
	s.jobs = append(s.jobs, &jobpb.JobInfo{JobId: id, JobName: name, State: state})
	return id
}

func (s *fakeJobService) job(id string) *jobpb.JobInfo {
	for _, j := range s.jobs {
		if j.JobId == id {
			return j
		}
	}
	return &jobpb.JobInfo{}
}

func (s *fakeJobService) set(id string, state jobpb.JobState_Enum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.job(id).State = state
	s.changed.Broadcast()
}

func (s *fakeJobService) state(id string) jobpb.JobState_Enum {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.job(id).State
}

// waitEnded waits until job id has ended (true) or ctx is done (false).
func (s *fakeJobService) waitEnded(ctx context.Context, id string) bool {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.changed.Broadcast()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !ended(s.job(id).State) {
		if ctx.Err() != nil {
			return false
		}
		s.changed.Wait()
	}
	return true
}

func (s *fakeJobService) name(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.job(id).JobName
}

func (s *fakeJobService) GetJobs(context.Context, *jobpb.GetJobsRequest) (*jobpb.GetJobsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listings++
	resp := &jobpb.GetJobsResponse{}
	for _, j := range s.jobs {
		resp.JobInfo = append(resp.JobInfo, &jobpb.JobInfo{JobId: j.JobId, JobName: j.JobName, State: j.State})
	}
	return resp, nil
}

func (s *fakeJobService) Cancel(_ context.Context, req *jobpb.CancelJobRequest) (*jobpb.CancelJobResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = append(s.cancelled, req.JobId)
	s.job(req.JobId).State = jobpb.JobState_CANCELLING
	if !s.stuck {
		go s.set(req.JobId, jobpb.JobState_CANCELLED)
	}
	return &jobpb.CancelJobResponse{State: jobpb.JobState_CANCELLING}, nil
}

// GetStateStream sends the job's state at every change until the job
// ends or the client goes (its deadline passed).
func (s *fakeJobService) GetStateStream(req *jobpb.GetJobStateRequest, stream jobpb.JobService_GetStateStreamServer) error {
	ctx := stream.Context()
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.changed.Broadcast()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		state := s.job(req.JobId).State
		if err := stream.Send(&jobpb.JobStateEvent{State: state}); err != nil {
			return err
		}
		if ended(state) {
			return nil
		}
		for state == s.job(req.JobId).State {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.changed.Wait()
		}
	}
}
