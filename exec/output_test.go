package exec

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTaskEndMark checks that the end mark is taken out of the output even
// when it arrives split over writes, that it ends the task's log there, and
// that awaitTaskEnd returns once it has been read.
func TestTaskEndMark(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	b := &tailBuffer{out: &out, outMu: &mu}
	log := filepath.Join(t.TempDir(), "logs", "task-1.log")
	b.startLog(log)
	stream := "task line\n\x00not a mark\n" + taskEndMark + "after the task\n"
	for cut := range len(stream) { // every split point, one mark each
		out.Reset()
		require.NoError(t, os.RemoveAll(filepath.Dir(log)))
		b.startLog(log)
		_, _ = b.Write([]byte(stream[:cut]))
		_, _ = b.Write([]byte(stream[cut:]))
		require.Equal(t, "task line\n\x00not a mark\nafter the task\n", out.String(), "cut at %d", cut)
		got, err := os.ReadFile(log)
		require.NoError(t, err)
		require.Equal(t, "task line\n\x00not a mark\n", string(got), "cut at %d", cut)
	}
	done := make(chan struct{})
	go func() {
		b.awaitTaskEnd(len(stream)+1, time.Minute)
		close(done)
	}()
	_, _ = b.Write([]byte(taskEndMark))
	<-done // never returns if the mark is not seen
}
