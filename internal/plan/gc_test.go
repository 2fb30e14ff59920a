package plan

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// gcPercent returns the collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestRaiseGCWhilePlansAreMade(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Setenv("GOGC", "") // Setenv restores it after the test
		require.NoError(t, os.Unsetenv("GOGC"))
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	// Two plans side by side, ending in the order they began: the target
	// stays raised until the last ends, then is what it was.
	first := raiseGC()
	require.Equal(t, planGCPercent, gcPercent())
	second := raiseGC()
	require.Equal(t, planGCPercent, gcPercent())
	first()
	require.Equal(t, planGCPercent, gcPercent(), "put back while a plan was still being made")
	second()
	require.Equal(t, 100, gcPercent())

	// A target above the plans' own, or the collector off, is left alone.
	for _, p := range []int{800, -1} {
		debug.SetGCPercent(p)
		restore := raiseGC()
		require.Equal(t, p, gcPercent())
		restore()
		require.Equal(t, p, gcPercent())
	}
	debug.SetGCPercent(100)

	// A plan made inside Inputs puts the target back too.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/a.txt", []byte("a b\n"), 0o644))
	_, err := Inputs(t.Context(), Options{Inputs: []string{dir}, SplitSize: 1 << 20, Workers: 1, Reducers: 1})
	require.NoError(t, err)
	require.Equal(t, 100, gcPercent())
}

func TestRaiseGCLeavesTheUsersChoice(t *testing.T) {
	t.Setenv("GOGC", "150")
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	restore := raiseGC()
	require.Equal(t, 150, gcPercent())
	restore()
	require.Equal(t, 150, gcPercent())
}
