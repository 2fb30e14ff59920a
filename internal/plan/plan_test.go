package plan

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dsbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
)

func TestInputsPacksAndSpools(t *testing.T) {
	dir := t.TempDir()
	line := strings.Repeat("x", 99) + "\n"
	// A big plain file, three tiny ones, and a compressed file heavier
	// than a worker's share: the tiny files share a task, the plain file
	// is cut at the split size, and the compressed one is spooled first.
	// big.txt's tail (420,000 - 3 × 131,072 = 26,784 bytes) is more than
	// the split slop, so it is a split of its own that c.txt shares.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.txt"), []byte(strings.Repeat(line, 4200)), 0o644))
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(line), 0o644))
	}
	f, err := os.Create(filepath.Join(dir, "z.txt.gz"))
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, 0, 100)
		for range 99 {
			b = append(b, byte('a'+rng.IntN(26)))
		}
		_, err = zw.Write(append(b, '\n'))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	in, err := Inputs(t.Context(), Options{Inputs: []string{dir}, SplitSize: 128 << 10, Workers: 2, Reducers: 2})
	require.NoError(t, err)
	require.Len(t, in.Files, 5)
	require.Equal(t, 1, in.Spooled)
	require.Equal(t, "z.txt.gz", filepath.Base(in.Tasks[0].Splits[0].File.Path))
	var tiny int
	for _, task := range in.Tasks[in.Spooled:] {
		for _, s := range task.Splits {
			require.LessOrEqual(t, s.Len(), int64(128<<10))
			if s.File.Size < 1000 {
				tiny++
				require.Greater(t, len(task.Splits), 1, "a tiny file shares its task")
			}
		}
	}
	require.Equal(t, 3, tiny)
}

func TestInputsRefusesTooManyTasks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("x\n", 1<<20)), 0o644))
	_, err := Inputs(t.Context(), Options{Inputs: []string{path}, SplitSize: 1, Workers: 2, Reducers: 1})
	require.ErrorContains(t, err, "more than the 100000 a job may have; use --split-size 64KiB or more")
	_, err = Inputs(t.Context(), Options{Inputs: []string{path}, SplitSize: 64 << 10, Workers: 2, Reducers: 1_000_000})
	require.ErrorContains(t, err, "shuffle segments")
}

// With a MaxSplitSize, the split size grows so that the input makes one map
// task per worker (a Streaming job's default), up to that size.
func TestInputsGrowSplitsToOnePerWorker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	line := strings.Repeat("x", 99) + "\n"
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat(line, 3001)), 0o644)) // 300,100 bytes
	for _, c := range []struct {
		name           string
		split, max     int64
		workers, tasks int
		perWorker      int // TasksPerWorker
	}{
		{"grown to a worker's share", 16 << 10, 1 << 20, 2, 2, 0},
		{"three workers", 16 << 10, 1 << 20, 3, 3, 0},
		{"capped", 16 << 10, 64 << 10, 2, 5, 0},
		{"no maximum", 16 << 10, 0, 2, 19, 0},
		{"a split size above the share stays", 200 << 10, 1 << 20, 4, 2, 0},
		// 300,100 / 4 = 75,025 bytes a task: 4 tasks.
		{"two tasks per worker", 16 << 10, 1 << 20, 2, 4, 2},
		{"two tasks per worker, capped", 16 << 10, 64 << 10, 2, 5, 2},
		// 300,100 / 12 = 25,009 bytes a task.
		{"two tasks per worker of six", 16 << 10, 1 << 20, 6, 12, 2},
		// 300,100 / 20 is under the split size, which stays: 19 tasks.
		{"two tasks per worker of ten", 16 << 10, 1 << 20, 10, 19, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := Inputs(t.Context(), Options{Inputs: []string{path}, SplitSize: c.split, MaxSplitSize: c.max, TasksPerWorker: c.perWorker,
				Workers: c.workers, Reducers: 1})
			require.NoError(t, err)
			require.Len(t, in.Tasks, c.tasks)
			for _, task := range in.Tasks {
				for _, s := range task.Splits {
					require.LessOrEqual(t, s.Len(), in.SplitSize)
				}
			}
		})
	}
}

// A job's map tasks are packed by what a task costs on its own: the last
// ones made smaller so that the workers finish together (most jobs); as
// few as the workers need, for a job whose tasks have a large fixed cost
// (a MaxSplitSize: Streaming); a multiple of the workers, of equal cost,
// for a job whose tasks have a moderate one (TasksPerWorker: word count).
func TestInputsPackByTaskCost(t *testing.T) {
	dir := t.TempDir()
	for i := range 40 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", i)), []byte(strings.Repeat("x", 9999)+"\n"), 0o644))
	}
	files := func(in Input) (n []int) {
		for _, task := range in.Tasks {
			n = append(n, len(task.Splits))
		}
		return n
	}
	// Each file costs 10,000 bytes and an open cost of 2,048: 481,920 in
	// all, a quarter of it per task for two tasks per worker.
	in, err := Inputs(t.Context(), Options{Inputs: []string{dir}, SplitSize: 1 << 20, Workers: 2, Reducers: 1})
	require.NoError(t, err)
	require.Equal(t, []int{10, 10, 10, 5, 2, 1, 2}, files(in), "files per task, tapered")
	in, err = Inputs(t.Context(), Options{Inputs: []string{dir}, SplitSize: 16 << 10, MaxSplitSize: 1 << 20, Workers: 2, Reducers: 1})
	require.NoError(t, err)
	require.Equal(t, []int{10, 10, 10, 10}, files(in), "files per task, with a MaxSplitSize")
	// Two tasks per worker: the split size grows to a quarter of the
	// 400,000 bytes, 100,000, under which the input's cost makes five
	// tasks (each may reach 112,500), so six, of 80,320 each at first.
	in, err = Inputs(t.Context(), Options{Inputs: []string{dir}, SplitSize: 16 << 10, MaxSplitSize: 1 << 20, TasksPerWorker: 2, Workers: 2, Reducers: 1})
	require.NoError(t, err)
	require.Equal(t, []int{6, 6, 7, 7, 7, 7}, files(in), "files per task, two per worker")
}

// The split size grows by the work a compressed file stands for (three
// times its bytes, input.WorkBytes), as Pack weighs it. Grown by the bytes
// on disk, a folder of .gz files got tasks of a third of the work meant
// (word count over 64 .gz files of 256 MiB in all: 16 map tasks instead
// of 9, and 10% more CPU).
func TestInputsGrowSplitsByCompressedWork(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		for range 400 {
			_, err := fmt.Fprintf(zw, "%x\n", rng.Uint64())
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt.gz", i)), buf.Bytes(), 0o644))
	}
	in, err := Inputs(t.Context(), Options{Inputs: []string{dir}, SplitSize: 16 << 10, MaxSplitSize: 1 << 30, Workers: 2, Reducers: 1})
	require.NoError(t, err)
	// 40 files of 3.6 KB weigh 12.8 KB each with their open cost, 513 KB
	// in all: two tasks a worker (packTarget) take 9 or 10 files each,
	// and the last three are a fifth. (By the bytes on disk, 8 tasks.)
	require.Len(t, in.Tasks, 5)
	for _, task := range in.Tasks[:4] {
		require.GreaterOrEqual(t, len(task.Splits), 9)
	}
}

// A .bz2 is spooled from a fifth of the size a .gz is (bzip2DecodeWeight):
// its decoding, on one core, is what a job over it waits for. 60 KB of
// random letters compress to about 36 KB and weigh 108 KB: under a split
// of 128 KiB as gzip, over it five times as bzip2; a split of 1 MiB spools
// neither.
func TestInputsSpoolSmallerBzip2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, 0, 60_000)
	for len(raw) < cap(raw) {
		raw = append(raw, byte('a'+rng.IntN(26)))
	}
	raw = append(raw, '\n')
	var gz, bz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	bw, err := dsbzip2.NewWriter(&bz, nil)
	require.NoError(t, err)
	_, err = bw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, bw.Close())
	for _, c := range []struct {
		name    string
		data    []byte
		split   int64
		spooled int
	}{
		{"a.txt.gz", gz.Bytes(), 128 << 10, 0},
		{"a.txt.bz2", bz.Bytes(), 128 << 10, 1},
		{"a.txt.bz2", bz.Bytes(), 1 << 20, 0},
	} {
		path := filepath.Join(t.TempDir(), c.name)
		require.NoError(t, os.WriteFile(path, c.data, 0o644))
		in, err := Inputs(t.Context(), Options{Inputs: []string{path}, SplitSize: c.split, Workers: 2, Reducers: 1})
		require.NoError(t, err)
		require.Equal(t, c.spooled, in.Spooled, "%s (%d bytes) at split size %d", c.name, len(c.data), c.split)
	}
}

// A spooled file's chunks are the split size, or for a file of less work
// than two splits a worker, its share for two chunks a worker: a 64 MiB
// text as one .gz made chunks of 4, 8, 16 and 32 MiB, and one worker
// mapped the 32 while the other waited (0.45 s; 0.39 in chunks of 11 MiB).
func TestChunkSizes(t *testing.T) {
	gz := func(size int64) input.Split {
		return input.Split{File: input.File{Path: "a.gz", Size: size, Compression: input.Gzip}, End: size}
	}
	first, size := ChunkSizes(gz(30<<20), 64<<20, 2) // 90 MiB of work
	require.Equal(t, int64(90<<20)/4, size)
	require.Equal(t, size/8, first)
	first, size = ChunkSizes(gz(1<<30), 64<<20, 2)
	require.Equal(t, int64(64<<20), size, "a big file: the split size")
	require.Equal(t, int64(8<<20), first)
	_, size = ChunkSizes(gz(100), 64<<20, 2)
	require.Equal(t, int64(64<<10), size, "never below 64 KiB")
	_, size = ChunkSizes(gz(1<<40), 64<<20, 2)
	require.Equal(t, int64(3<<40)/maxChunks, size, "never more than maxChunks")
}
