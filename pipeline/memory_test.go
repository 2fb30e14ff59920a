package pipeline

import (
	"iter"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/mapreduce"
)

// TestWorkerMemory: a pipeline's worker may merge and sort at once, so its
// memory limit is the sort buffer, the merge's blocks and the slack, and a
// combined collection (whose table lives in a read stage, which does not
// merge) adds nothing.
func TestWorkerMemory(t *testing.T) {
	build := func(combine bool) *Pipeline {
		p := &Pipeline{Name: "memory"}
		words := Read(p, "split", func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			emit(string(rec.Value), 1)
			return nil
		})
		if combine {
			words = Combine(words, func(a, b int64) int64 { return a + b })
		}
		Output(ReduceByKey(words, "count", func(_ *mapreduce.TaskContext, _ string, ns iter.Seq[int64], emit func(int64)) error {
			emit(0)
			return nil
		}))
		require.NoError(t, p.err)
		return p
	}
	cfg := mapreduce.Config{SortBuffer: 64 << 20, MergeFanIn: 100}
	merge := int64(100 * 2 * task.RunBlockSize)
	for _, tc := range []struct {
		combine bool
		want    int64
	}{
		{false, 64<<20 + merge + 16<<20},
		{true, 64<<20 + merge + 16<<20},
	} {
		d := &driver{p: build(tc.combine), cfg: cfg}
		require.Equal(t, tc.want, d.workerMemory(), "combine %v", tc.combine)
	}
}
