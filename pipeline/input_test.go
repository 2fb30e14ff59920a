package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/compresstest"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// These tests read the input shapes of mapreduce/input_shapes_test.go
// through a pipeline's read stage, which plans its files as a job does
// (plan.Files, plan.Cut): a small file is left unopened, its compression
// guessed from its name, and the task that reads it decides.

var engines = []string{mapreduce.EngineInline, mapreduce.EngineLocal}

// TestCompressedInput: a folder of files of every compression Quern reads,
// small (left unopened by the plan) and large (opened by it), each under
// its own name, under another compression's name and under a plain name,
// and plain text under a compression's name, read by a pipeline on both
// engines as the words in their plain bytes, each file once.
func TestCompressedInput(t *testing.T) {
	dir := t.TempDir()
	var texts [][]byte
	put := func(name string, stored, plain []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), stored, 0o644))
		texts = append(texts, plain)
	}
	text := func(seed, lines int) []byte {
		var b bytes.Buffer
		for i := range lines {
			fmt.Fprintf(&b, "w%d v%d u%d\n", (i+seed)%17, (i*seed)%23, seed)
		}
		return b.Bytes()
	}
	// At the tests' split size of 8 KiB the plan guesses files of up to
	// 2 KiB stored; 20 lines compress to far less, 3,000 to more.
	seed := 0
	for _, z := range []struct {
		c              input.Compression
		ext, otherName string
	}{
		{input.Gzip, ".gz", ".zst"}, {input.Zstd, ".zst", ".xz"}, {input.Xz, ".xz", ".bz2"}, {input.Bzip2, ".bz2", ".gz"},
	} {
		c := z.c
		for _, lines := range []int{20, 3000} {
			for _, name := range []string{"a" + z.ext, "b.txt", "c" + z.otherName} {
				seed++
				plain := text(seed, lines)
				put(fmt.Sprintf("%d-%d-%s", seed, lines, name), compresstest.Compress(t, c, plain), plain)
			}
		}
	}
	for _, lines := range []int{20, 3000} {
		seed++
		plain := text(seed, lines)
		put(fmt.Sprintf("plain-%d.gz", lines), plain, plain)
	}
	want := wordsByCount(texts)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := words.Run(context.Background(), config(engine, dir, tmp, out, nil))
			require.NoError(t, err)
			require.Equal(t, want, readOutput(t, out))
			require.FileExists(t, filepath.Join(out, "_SUCCESS"))
		})
	}
}

// TestInputRefused: a file the pipeline cannot read fails it as a
// configuration error (exit status 2) naming the file, at once (no
// attempt retried), with nothing committed: a compression Quern cannot
// read (by the task for a small file the plan leaves unopened, its
// compression guessed from its name, by the plan for a large one), and a small gzip file cut short, under a .gz and
// under a plain name. A split size that would cut the input into
// millions of tasks is refused by the plan, before the driver grows to
// hold them.
func TestInputRefused(t *testing.T) {
	lz4 := func(n int) []byte { return append([]byte("\x04\x22\x4d\x18"), make([]byte, n)...) }
	gz := compresstest.Compress(t, input.Gzip, bytes.Repeat([]byte("some words to count\n"), 5000))
	cut := gz[:len(gz)/2]
	require.Less(t, len(cut), 2<<10, "small enough to be left unopened by the plan")
	big, _ := bigGzip(t)
	bigCut, err := os.ReadFile(big)
	require.NoError(t, err)
	bigCut = bigCut[:len(bigCut)*2/3] // spooled, and refused by its spool task
	for _, tc := range []struct {
		name      string
		data      []byte
		splitSize int64
		is        error
		says      string
	}{
		{"logs.lz4", lz4(100), 0, input.ErrCompression, "split %s:[0,"},
		{"logs.txt", lz4(100), 0, input.ErrCompression, "split %s:[0,"},
		{"big.lz4", lz4(300 << 10), 0, input.ErrCompression, "argument"},
		{"cut.txt.gz", cut, 0, input.ErrCorrupt, "split %s:[0,"},
		{"cut.txt", cut, 0, input.ErrCorrupt, "split %s:[0,"},
		{"big-cut.txt.gz", bigCut, 0, input.ErrCorrupt, "gzip split %s:[0,"},
		{"words.txt", bytes.Repeat([]byte("many words\n"), 40_000), 1, nil, "--split-size 1B cuts 0.4 MB in 2 files into 440006 map tasks"},
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "good.txt"), []byte("a b c\n"), 0o644))
		bad := filepath.Join(dir, tc.name)
		require.NoError(t, os.WriteFile(bad, tc.data, 0o644))
		for _, engine := range engines {
			t.Run(tc.name+"/"+engine, func(t *testing.T) {
				tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
				cfg := config(engine, dir, tmp, out, nil)
				if tc.splitSize != 0 {
					cfg.SplitSize = tc.splitSize
				}
				res, err := words.Run(context.Background(), cfg)
				require.Nil(t, res)
				require.ErrorIs(t, err, mapreduce.ErrConfig)
				if tc.is != nil {
					require.ErrorIs(t, err, tc.is)
					require.ErrorContains(t, err, bad)
				}
				says := tc.says
				if runtime.GOOS == "windows" && strings.HasPrefix(says, "split") {
					// With no permission bits to trust, the plan opens
					// every file (input's mayRead), and refuses it itself.
					says = "argument"
				}
				require.ErrorContains(t, err, strings.ReplaceAll(says, "%s", bad))
				require.NotContains(t, err.Error(), "attempt", "a refusal is not retried")
				entries, err := os.ReadDir(out)
				if err == nil {
					for _, e := range entries {
						require.Contains(t, []string{"_job.json", "_logs"}, e.Name(), "a failed pipeline leaves no parts and no _SUCCESS")
					}
				} else {
					require.ErrorIs(t, err, os.ErrNotExist)
				}
				left, err := os.ReadDir(tmp)
				require.NoError(t, err)
				require.Empty(t, left)
			})
		}
	}
}

// TestReducersBounded: a reducer count whose square passes the segments a
// pipeline may have is refused, naming the stage and the count to use, by
// the run and by the dry run, before anything runs, when a stage shuffles
// a group stage's output (words' count, read by list after a map) or is a
// state stage; one whose shuffles all come from the read stage is not
// (its read tasks × reducers are bounded as a job's are).
func TestReducersBounded(t *testing.T) {
	in, _ := writeInput(t)
	for _, tc := range []struct {
		p        *pipeline.Pipeline
		reducers int
		refused  string // the stage named, "" if not refused
	}{
		{words, 4472, ""},
		{words, 4473, "list"},
		{stateCounts, 4473, "count"},
		{viewCount, 4473, ""},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.p.Name, tc.reducers), func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			cfg := config(mapreduce.EngineInline, in, tmp, out, nil)
			cfg.Reducers = tc.reducers
			var plan strings.Builder
			err := tc.p.PrintPlan(&plan, cfg)
			if tc.refused == "" {
				require.NoError(t, err)
				require.Contains(t, plan.String(), fmt.Sprintf("%d reducers", tc.reducers))
				return
			}
			want := "stage " + tc.refused + ": 4473 reducers × 4473 reducers is 20007729 shuffle segments, more than the 20000000 a pipeline may have; use --reducers 4472 or fewer"
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, want)
			res, err := tc.p.Run(context.Background(), cfg)
			require.Nil(t, res)
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, want)
			require.NoDirExists(t, out)
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
}

// bigGzip writes a gzip file of text whose compressed size is many times
// the tests' split size of 8 KiB, so that the plan spools it (plan.Cut),
// and returns its path and what the words pipeline makes of it.
func bigGzip(t *testing.T) (string, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var b bytes.Buffer
	for range 20_000 {
		fmt.Fprintf(&b, "w%d v%d u%d\n", rng.IntN(5000), rng.IntN(300), rng.IntN(40))
	}
	path := filepath.Join(t.TempDir(), "big.txt.gz")
	require.NoError(t, os.WriteFile(path, compresstest.Compress(t, input.Gzip, b.Bytes()), 0o644))
	return path, wordsByCount([][]byte{b.Bytes()})
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Size()
}

// chunkTasks counts the read tasks in out's _job.json that read a chunk
// of spooled file in, and those that read in whole (its spool tasks).
func chunkTasks(t *testing.T, out, in string) (chunks, spools int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var report struct{ Tasks []struct{ ID, Input string } }
	require.NoError(t, json.Unmarshal(data, &report))
	for _, task := range report.Tasks {
		switch {
		case !strings.HasPrefix(task.ID, "split-"):
		case strings.HasPrefix(task.Input, in+":decompressed ["):
			chunks++
		case strings.HasPrefix(task.Input, in+":[0,"):
			spools++
		}
	}
	return chunks, spools
}

// TestSpooledInput: a read stage over one big compressed file decompresses
// it in the driver into chunks that its workers map as they appear, as a
// job's map phase does, on both engines: the dry run says so, the output
// is the words of the file, and the report has one spool task and a read
// task per chunk.
func TestSpooledInput(t *testing.T) {
	in, want := bigGzip(t)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			cfg := config(engine, in, tmp, out, nil)
			var reports []mapreduce.Progress
			cfg.OnProgress = func(p mapreduce.Progress) {
				if p.Phase == "split" {
					reports = append(reports, p)
				}
			}
			var plan strings.Builder
			require.NoError(t, words.PrintPlan(&plan, cfg))
			require.Contains(t, plan.String(), "stage split: map over the input, 1 tasks, 1 of them compressed files decompressed into chunks")
			_, err := words.Run(context.Background(), cfg)
			require.NoError(t, err)
			require.Equal(t, want, readOutput(t, out))
			chunks, spools := chunkTasks(t, out, in)
			require.Equal(t, 1, spools)
			require.Greater(t, chunks, 2)
			// The read stage's progress counts the file's bytes, never
			// going back, and reports the last task done with all of
			// them (a bar completes on it).
			require.NotEmpty(t, reports)
			for i, p := range reports {
				require.Equal(t, fileSize(t, in), p.TotalBytes, "report %d", i)
				if i > 0 {
					require.GreaterOrEqual(t, p.Bytes, reports[i-1].Bytes, "report %d", i)
				}
				if p.Done == p.Total {
					require.Equal(t, p.TotalBytes, p.Bytes, "report %d, the last task done: %+v", i, reports)
				}
			}
			require.Equal(t, reports[len(reports)-1].Total, reports[len(reports)-1].Done)
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left, "chunks left in %s", tmp)
		})
	}
}

// TestLostChunkRunIsMadeAgain: a run of a chunk's read task lost before
// count reads it is made again from the chunk, which stays on disk until
// the pipeline ends.
func TestLostChunkRunIsMadeAgain(t *testing.T) {
	in, want := bigGzip(t)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			_, _, remakes, err := lostRun(t, words, engine, in, want, nil, "split", 0, "s00-split/*/c00-split-*.run", "delete", nil)
			require.NoError(t, err)
			require.Positive(t, remakes["split"])
		})
	}
}

// TestReadStageProgressWithoutBytes: a read stage whose files hold no
// bytes still reports its progress to Config.OnProgress (a bar for it
// completes), as one whose files do; it reported nothing when only
// reports with bytes were passed on.
func TestReadStageProgressWithoutBytes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.txt"), nil, 0o644))
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			cfg := config(engine, dir, tmp, out, nil)
			var last *mapreduce.Progress
			cfg.OnProgress = func(p mapreduce.Progress) {
				if p.Phase == "split" {
					last = &p
				}
			}
			_, err := words.Run(context.Background(), cfg)
			require.NoError(t, err)
			require.NotNil(t, last, "no progress of the read stage")
			require.Equal(t, last.Total, last.Done) // 0 of 0: an empty file makes no split
		})
	}
}
