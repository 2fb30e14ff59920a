package task

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseFaults: what QUERN_FAULTS accepts, and await-split's bound,
// which a test of a job that must not be asked to split sets short.
func TestParseFaults(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []fault // nil: refused
	}{
		{"map-00000/1@record:2=kill", []fault{{"map-00000", 1, "record", 2, "kill", time.Minute}}},
		{"map-*/0@record=await-split", []fault{{"map-*", 0, "record", 1, "await-split", time.Minute}}},
		{"map-00000/1@record:2=await-split:1500ms", []fault{{"map-00000", 1, "record", 2, "await-split", 1500 * time.Millisecond}}},
		{" map-00000/1@map-done=corrupt ; reduce-00001/2@commit=exit", []fault{
			{"map-00000", 1, "map-done", 1, "corrupt", time.Minute}, {"reduce-00001", 2, "commit", 1, "exit", time.Minute}}},
		{"map-00000/1@record=await-split:soon", nil},
		{"map-00000/1@record=await-split:-1s", nil},
		{"map-00000/1@record=await-split:", nil},
		{"map-00000/1@record=kill:2s", nil},
		{"map-00000/1@spill=await-split", nil},
		{"map-00000/1@record=corrupt", nil},
		{"map-00000@record=kill", nil},
		{"map-00000/1@record:0=kill", nil},
	} {
		got, err := parseFaults(c.in)
		if c.want == nil {
			require.Error(t, err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}
