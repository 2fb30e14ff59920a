package driver

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFitMemory: under a memory limit the defaults shrink until the job
// fits (the buffer and fan-in first, then workers), the fields a caller set
// stay, and every outcome is said in the note.
func TestFitMemory(t *testing.T) {
	const MiB = 1 << 20
	defaults := Config{Workers: 2, SortBuffer: DefaultSortBuffer, MergeFanIn: DefaultMergeFanIn}
	all := fitting{buffer: true, fanIn: true, workers: true}

	c := defaults.fitMemory(4<<30, "memory.max", all)
	require.Equal(t, defaults.SortBuffer, c.SortBuffer, "a job that fits is left alone")
	require.Empty(t, c.memoryNote)

	c = defaults.fitMemory(150*MiB, "memory.max", all)
	require.Equal(t, 2, c.Workers)
	require.Less(t, c.SortBuffer, defaults.SortBuffer)
	require.GreaterOrEqual(t, c.SortBuffer, int64(minFittedBuffer))
	require.Zero(t, c.SortBuffer%MiB, "a size a user can type")
	require.LessOrEqual(t, jobMemory(c), int64(150*MiB)/100*90)
	require.Contains(t, c.memoryNote, "memory limit of 150MiB (memory.max): 2 workers, sort buffer ")
	require.Contains(t, c.memoryNote, "so that the job fits")

	eight := defaults
	eight.Workers = 8
	c = eight.fitMemory(150*MiB, "memory.max", all)
	require.Less(t, c.Workers, 8, "eight workers cannot have a useful buffer each in 150 MiB")
	require.GreaterOrEqual(t, c.SortBuffer, int64(minFittedBuffer))
	require.LessOrEqual(t, jobMemory(c), int64(150*MiB)/100*90)

	c = eight.fitMemory(150*MiB, "memory.max", fitting{buffer: true, fanIn: true})
	require.Equal(t, 8, c.Workers, "workers the caller set stay")
	require.Contains(t, c.memoryNote, "workers may be killed for memory")

	c = defaults.fitMemory(150*MiB, "memory.max", fitting{})
	require.Equal(t, defaults, Config{Workers: c.Workers, SortBuffer: c.SortBuffer, MergeFanIn: c.MergeFanIn}, "nothing the caller set changes")
	require.Contains(t, c.memoryNote, "needs about 288MiB with 2 workers and a sort buffer of 64MiB")
	require.Contains(t, c.memoryNote, "use fewer --workers or a smaller --sort-buffer")

	c = defaults.fitMemory(40*MiB, "memory.max", all)
	require.Equal(t, 1, c.Workers)
	require.Contains(t, c.memoryNote, "workers may be killed for memory", "below what any plan needs")
}

// TestWithDefaultsFitsMemoryLimit: WithDefaults fits the fields it picks to
// the process's memory limit, keeps those the caller set, says what it did
// once (a second WithDefaults keeps the first note), and changes nothing
// without a limit.
func TestWithDefaultsFitsMemoryLimit(t *testing.T) {
	limit, found := int64(150<<20), true
	old := memoryLimit
	memoryLimit = func() (int64, string, bool) { return limit, "memory.max", found }
	t.Cleanup(func() { memoryLimit = old })

	c := Config{Workers: 2}.WithDefaults()
	require.Less(t, c.SortBuffer, int64(DefaultSortBuffer))
	require.Less(t, c.MergeFanIn, DefaultMergeFanIn)
	require.Contains(t, c.memoryNote, "so that the job fits")
	require.Equal(t, c, c.WithDefaults())

	set := Config{Workers: 2, SortBuffer: 32 << 20, MergeFanIn: 10}.WithDefaults()
	require.Equal(t, int64(32<<20), set.SortBuffer)
	require.Equal(t, 10, set.MergeFanIn)

	found = false
	free := Config{Workers: 2}.WithDefaults()
	require.Equal(t, int64(DefaultSortBuffer), free.SortBuffer)
	require.Empty(t, free.memoryNote)
}

// TestSpoolDecodeCores: a spool decodes a .bz2 on every core, but under a
// memory limit only on as many as the room the job leaves pays for.
func TestSpoolDecodeCores(t *testing.T) {
	const MiB = 1 << 20
	old := memoryLimit
	t.Cleanup(func() { memoryLimit = old })
	c := Config{Workers: 2, SortBuffer: 16 * MiB, MergeFanIn: DefaultMergeFanIn}
	cores := runtime.GOMAXPROCS(0)

	memoryLimit = func() (int64, string, bool) { return 0, "", false }
	require.Equal(t, cores, spoolDecodeCores(c), "no limit")

	memoryLimit = func() (int64, string, bool) { return 64 << 30, "memory.max", true }
	require.Equal(t, cores, spoolDecodeCores(c), "room for every core")

	// A limit the job only just fits in: the spool decodes on one core.
	memoryLimit = func() (int64, string, bool) { return jobMemory(c) * 100 / 90, "memory.max", true }
	require.Equal(t, 1, spoolDecodeCores(c))
	// Room for one more decoding goroutine.
	memoryLimit = func() (int64, string, bool) { return (jobMemory(c) + decodeCoreMemory) * 100 / 89, "memory.max", true }
	require.Equal(t, min(cores, 2), spoolDecodeCores(c))
}
