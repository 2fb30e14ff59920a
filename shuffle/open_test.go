package shuffle

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quern-dev/quern/spill"
)

// writeRuns writes nRuns spill files of nParts partitions with random sorted
// records, and returns their paths and, per partition, each run's records in
// run order (the input of referenceMerge).
func writeRuns(t *testing.T, dir string, nRuns, nParts, maxRecs int, seed uint64) ([]string, [][][]spill.KV) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	paths := make([]string, nRuns)
	parts := make([][][]spill.KV, nParts)
	for p := range parts {
		parts[p] = make([][]spill.KV, nRuns)
	}
	for r := range nRuns {
		paths[r] = filepath.Join(dir, fmt.Sprintf("run%02d.spill", r))
		w, err := spill.Create(paths[r], spill.Options{Partitions: nParts, Compression: spill.ZstdCompression})
		if err != nil {
			t.Fatal(err)
		}
		for p := range nParts {
			keys := make([][]byte, rng.IntN(maxRecs+1))
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key%03d", rng.IntN(50))
			}
			slices.SortFunc(keys, bytes.Compare)
			for i, k := range keys {
				v := fmt.Appendf(nil, "r%d/p%d/%d", r, p, i)
				if err := w.Add(p, k, v); err != nil {
					t.Fatal(err)
				}
				parts[p][r] = append(parts[p][r], spill.KV{Key: k, Value: v})
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return paths, parts
}

func segmentsOf(paths []string, p int) []Segment {
	segs := make([]Segment, len(paths))
	for i, path := range paths {
		segs[i] = Segment{Path: path, Partition: p}
	}
	return segs
}

func TestOpenPartitionMultiPass(t *testing.T) {
	runDir := t.TempDir()
	paths, parts := writeRuns(t, runDir, 20, 3, 40, 1)
	for _, tc := range []struct {
		fanIn      int
		wantPasses int
		wantRuns   int
	}{
		// 20 inputs: fan-in 2 needs 19 two-way merges over 4 passes
		// (20 -> 10 -> 5 -> 3 -> 2); fan-in 3: 20 -> 7 -> 3, with the
		// second pass merging only 5 inputs into 1 (5 -> 3 needs just one
		// merge of 3); the default fan-in merges in one go.
		{fanIn: 2, wantPasses: 4, wantRuns: 18},
		{fanIn: 3, wantPasses: 2, wantRuns: 9},
		{fanIn: 0, wantPasses: 0, wantRuns: 0},
		{fanIn: 20, wantPasses: 0, wantRuns: 0},
		{fanIn: 19, wantPasses: 1, wantRuns: 1},
	} {
		for p := range parts {
			t.Run(fmt.Sprintf("fanIn=%d/partition=%d", tc.fanIn, p), func(t *testing.T) {
				tmp := t.TempDir()
				it, stats, err := OpenPartition(segmentsOf(paths, p), MergeOptions{FanIn: tc.fanIn, TempDir: tmp, Compression: spill.LZ4Compression})
				if err != nil {
					t.Fatal(err)
				}
				got := drain(it)
				if err := it.Error(); err != nil {
					t.Fatal(err)
				}
				if err := it.Close(); err != nil {
					t.Fatal(err)
				}
				requireKVs(t, got, referenceMerge(parts[p]))
				if stats.Passes != tc.wantPasses || stats.IntermediateRuns != tc.wantRuns {
					t.Errorf("stats %+v, want %d passes and %d runs", stats, tc.wantPasses, tc.wantRuns)
				}
				if (stats.IntermediateBytes > 0) != (tc.wantRuns > 0) {
					t.Errorf("stats %+v: intermediate bytes do not match intermediate runs", stats)
				}
				left, err := os.ReadDir(tmp)
				if err != nil {
					t.Fatal(err)
				}
				if len(left) != 0 {
					t.Errorf("temp dir not cleaned up: %v", left)
				}
			})
		}
	}
}

func TestOpenPartitionIntermediatesRemovedWhileReading(t *testing.T) {
	runDir := t.TempDir()
	paths, parts := writeRuns(t, runDir, 8, 1, 30, 2) // 8 -> 4 -> 2: both final inputs are intermediate
	tmp := t.TempDir()
	it, stats, err := OpenPartition(segmentsOf(paths, 0), MergeOptions{FanIn: 2, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	// Before the final merge is read, only the runs it reads remain: the
	// intermediate runs of earlier passes were removed once merged.
	var files []string
	err = filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("after %d passes, %d intermediate runs on disk, want the 2 of the final merge: %v", stats.Passes, len(files), files)
	}
	requireKVs(t, drain(it), referenceMerge(parts[0]))
}

func TestOpenPartitionEmpty(t *testing.T) {
	it, stats, err := OpenPartition(nil, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if it.Next() != nil || stats != (MergeStats{}) {
		t.Fatalf("no segments: got a record or stats %+v", stats)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPartitionBadFanIn(t *testing.T) {
	_, _, err := OpenPartition(nil, MergeOptions{FanIn: 1})
	if !errors.Is(err, ErrFanIn) {
		t.Fatalf("FanIn 1: err = %v, want ErrFanIn", err)
	}
}

func TestOpenPartitionMissingFile(t *testing.T) {
	dir := t.TempDir()
	paths, _ := writeRuns(t, dir, 3, 1, 5, 3)
	missing := filepath.Join(dir, "missing.spill")
	segs := segmentsOf(append(paths, missing), 0)
	for _, fanIn := range []int{2, 8} {
		tmp := t.TempDir()
		it, _, err := OpenPartition(segs, MergeOptions{FanIn: fanIn, TempDir: tmp})
		if err == nil {
			it.Close()
			t.Fatalf("fanIn %d: no error for a missing run", fanIn)
		}
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("fanIn %d: err = %v, want a not-exist error naming %s", fanIn, err, missing)
		}
		var se *SegmentError
		if !errors.As(err, &se) || se.Segment != segs[3] || se.Op != "open" {
			t.Fatalf("fanIn %d: err = %v, want a SegmentError for %+v", fanIn, err, segs[3])
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("fanIn %d: temp dir not cleaned up after an error: %v", fanIn, left)
		}
	}
}

// corrupt flips one byte in the middle of a file.
func corrupt(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPartitionChecksumError(t *testing.T) {
	for _, fanIn := range []int{2, 8} {
		t.Run(fmt.Sprint("fanIn=", fanIn), func(t *testing.T) {
			dir := t.TempDir()
			paths, _ := writeRuns(t, dir, 5, 1, 200, 4)
			corrupt(t, paths[3])
			tmp := t.TempDir()
			it, _, err := OpenPartition(segmentsOf(paths, 0), MergeOptions{FanIn: fanIn, TempDir: tmp})
			if err == nil {
				// The corruption may be found only when its block is
				// read.
				drain(it)
				err = errors.Join(it.Error(), it.Close())
			}
			if !errors.Is(err, spill.ErrChecksum) {
				t.Fatalf("err = %v, want spill.ErrChecksum", err)
			}
			if !strings.Contains(err.Error(), paths[3]) {
				t.Fatalf("err %q does not name the corrupt run %s", err, paths[3])
			}
			var se *SegmentError
			if !errors.As(err, &se) || se.Segment.Path != paths[3] {
				t.Fatalf("err = %v, want a SegmentError for %s", err, paths[3])
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("temp dir not cleaned up after an error: %v", left)
			}
		})
	}
}

func TestOpenPartitionBadTempDir(t *testing.T) {
	dir := t.TempDir()
	paths, _ := writeRuns(t, dir, 3, 1, 5, 5)
	notDir := paths[0] // a file: no directory can be made inside it
	_, _, err := OpenPartition(segmentsOf(paths, 0), MergeOptions{FanIn: 2, TempDir: notDir})
	if err == nil || !strings.Contains(err.Error(), "intermediate") {
		t.Fatalf("err = %v, want an error about the intermediate run directory", err)
	}
}

// TestOpenPartitionReportsProgressDuringPasses: the intermediate passes
// call MergeOptions.Progress as they go, with a count that only grows and
// ends at the records they wrote, so that a reducer in a long pass is not
// taken for stuck by a task timeout.
func TestOpenPartitionReportsProgressDuringPasses(t *testing.T) {
	paths, parts := writeRuns(t, t.TempDir(), 8, 1, 3000, 2)
	total := 0
	for _, run := range parts[0] {
		total += len(run)
	}
	var calls []int64
	it, stats, err := OpenPartition(segmentsOf(paths, 0), MergeOptions{
		FanIn: 2, TempDir: t.TempDir(),
		Progress: func(n int64) { calls = append(calls, n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(it)
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	requireKVs(t, got, referenceMerge(parts[0]))
	// 8 runs at fan-in 2: passes 8 -> 4 -> 2 write every record twice.
	if stats.Passes != 2 {
		t.Fatalf("stats %+v, want 2 passes", stats)
	}
	if want := 2 * total / progressEvery; len(calls) != want {
		t.Fatalf("Progress called %d times for %d records merged twice, want %d", len(calls), total, want)
	}
	for i, n := range calls {
		if n != int64(i+1)*progressEvery {
			t.Fatalf("call %d reported %d merged, want %d", i, n, (i+1)*progressEvery)
		}
	}
}
