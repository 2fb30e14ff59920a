//go:build unix

package mapreduce_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/mapreduce"
)

// TestDefaultFanInFitsOpenFileLimit: under a low open-file limit (here a
// soft limit of 48, as ulimit -n 48 sets) a job that sets no merge fan-in
// merges as many runs at once as the limit leaves room for, in more
// passes, and gives the right counts. The default of 64 was refused under
// any limit below 128, naming a flag the user had not set. A fan-in set
// above what fits is still refused, naming the largest that does.
func TestDefaultFanInFitsOpenFileLimit(t *testing.T) {
	testenv.SkipUnderRace(t, "the merge fan-in under an open-file limit")
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur < 48 {
		t.Fatalf("the open-file limit is %d already, below the test's", lim.Cur)
	}
	low := lim
	low.Cur = 48
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	t.Cleanup(func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)) })

	dir, inputs := tinyFiles(t, 2000)
	want := referenceWordCount(t, inputs)
	cfg := mapreduce.Config{Inputs: []string{dir}, Workers: 2, Reducers: 1, SplitSize: 4 << 10, TmpDir: t.TempDir()}

	cfg.Output = filepath.Join(t.TempDir(), "out")
	plan, err := mapreduce.Plan(wordcount.Job.Name, cfg)
	require.NoError(t, err)
	require.Equal(t, 16, plan.Config.MergeFanIn, "48 files less the 32 a reducer keeps for itself")
	require.Greater(t, len(plan.Tasks), 16, "more runs than fit in one merge")

	res, err := mapreduce.Run(context.Background(), wordcount.Job, cfg)
	require.NoError(t, err)
	require.Positive(t, res.Counters[mapreduce.MergePasses])
	require.Equal(t, want, parseCounts(t, readParts(t, cfg.Output, 1)))

	cfg.Output = filepath.Join(t.TempDir(), "out")
	cfg.MergeFanIn = 17
	_, err = mapreduce.Run(context.Background(), wordcount.Job, cfg)
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.ErrorContains(t, err, "use --merge-fan-in 16 or less")
}
