package streaming

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReducerLeavingInputUnreadFailsTheJob: `head -1` as a reducer over a
// partition of about 70 KB, which fits whole in the socket to it, read one
// buffer of it and exited 0. The worker had written everything by then,
// so no write failed, and the job committed one line with _SUCCESS (or
// failed an attempt, by the scheduler's whim, and committed on a retry).
// Every attempt now fails the same way, naming the reducer, and the job
// fails with nothing committed.
func TestReducerLeavingInputUnreadFailsTheJob(t *testing.T) {
	in, _ := pairs(t, 1, 5000)
	cfg := config(t, in)
	cfg.Reducers = 1
	res, err := Run(context.Background(), Commands{Mapper: "cat", Reducer: "head -n 1"}, cfg)
	require.Error(t, err, "committed %v", res)
	require.Contains(t, err.Error(), "reduce-00000")
	require.Contains(t, err.Error(), "stopped reading its input before the end")
	_, serr := os.Stat(filepath.Join(cfg.Output, "_SUCCESS"))
	require.ErrorIs(t, serr, os.ErrNotExist)
}
