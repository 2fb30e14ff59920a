package beamjob

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// TestCancelledRunCancelsItsJob: a run whose context is cancelled (Ctrl-C)
// cancels its job on the runner's job service, and only its job, and
// returns once the job has ended there; a run that is not cancelled
// cancels nothing. The job service is a fake that ends a job a moment
// after it is cancelled, and the executor one that submits a job and
// returns when its context is cancelled, as Beam's launcher does without
// telling the service (on Prism, a job left so could wait for good on
// workers that had stopped: the goroutines CI found left after the tests).
func TestCancelledRunCancelsItsJob(t *testing.T) {
	svc := startFakeJobService(t)
	svc.submit("someone else's", jobpb.JobState_RUNNING)
	for _, c := range []struct {
		name     string
		jobName  string // --job_name, or "" for Quern's
		cancel   bool
		wantName string
	}{
		{"cancelled", "", true, "quern-run1"},
		{"cancelled, named by the user", "mine", true, "mine"},
		{"not cancelled", "", false, "quern-run1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			*jobopts.JobName = c.jobName
			defer func() { *jobopts.JobName = "" }()
			var id string
			exec := func(ctx context.Context, _ *beam.Pipeline) (beam.PipelineResult, error) {
				id = svc.submit(*jobopts.JobName, jobpb.JobState_RUNNING)
				if !c.cancel {
					svc.set(id, jobpb.JobState_DONE)
					return nil, nil
				}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			ctx, cancel := context.WithCancel(context.Background())
			if c.cancel {
				cancel()
			}
			defer cancel()
			svc.cancelled = nil
			err := runPipeline(ctx, exec, nil, "run1", slog.New(slog.DiscardHandler))
			require.Equal(t, c.jobName, *jobopts.JobName, "the user's job name is changed")
			require.Equal(t, c.wantName, svc.name(id))
			if !c.cancel {
				require.NoError(t, err)
				require.Empty(t, svc.cancelled, "a run that went on cancelled a job")
				return
			}
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, []string{id}, svc.cancelled, "jobs cancelled")
			require.Equal(t, jobpb.JobState_CANCELLED, svc.state(id), "the run returned before its job ended")
		})
	}
	require.Equal(t, jobpb.JobState_RUNNING, svc.state("job-0"), "another job was cancelled")
}

// fakeJobService is a job service holding jobs in memory; a cancelled
// job ends (CANCELLED) on a goroutine of its own, after Cancel returns.
type fakeJobService struct {
	jobpb.UnimplementedJobServiceServer
	mu        sync.Mutex
	changed   *sync.Cond
	jobs      []*jobpb.JobInfo // job i has id "job-i"
	cancelled []string
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

func (s *fakeJobService) name(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.job(id).JobName
}

func (s *fakeJobService) GetJobs(context.Context, *jobpb.GetJobsRequest) (*jobpb.GetJobsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	go s.set(req.JobId, jobpb.JobState_CANCELLED)
	return &jobpb.CancelJobResponse{State: jobpb.JobState_CANCELLING}, nil
}

func (s *fakeJobService) GetStateStream(req *jobpb.GetJobStateRequest, stream jobpb.JobService_GetStateStreamServer) error {
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
		s.changed.Wait()
	}
}
