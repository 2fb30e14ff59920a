package beamjob

import (
	"context"
	"testing"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
)

// OnSpill makes f run after every sorted run a sort spills to disk, until
// the test ends.
func OnSpill(t testing.TB, f func()) {
	spilledHook.Store(&f)
	t.Cleanup(func() { spilledHook.Store(nil) })
}

// JobsNotEnded lists, by name and state, the jobs of this process's job
// service (Beam's endpoint: Prism's, once a pipeline has run) that have
// not ended.
func JobsNotEnded(t testing.TB) []string {
	t.Helper()
	if *jobopts.Endpoint == "" {
		t.Fatal("no job service was started")
	}
	ctx := context.Background()
	cc, err := grpcx.Dial(ctx, *jobopts.Endpoint, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	jobs, err := unended(ctx, jobpb.NewJobServiceClient(cc), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range jobs {
		names = append(names, j.GetJobName()+": "+j.GetState().String())
	}
	return names
}
