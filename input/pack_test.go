package input

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestPack(t *testing.T) {
	f := func(path string, size int64) File { return File{Path: path, Size: size} }
	gz := File{Path: "g.gz", Size: 10, Compression: Gzip}
	pq := File{Path: "p.parquet", Size: 5, Format: Parquet}
	for _, tc := range []struct {
		name     string
		splits   []Split
		target   int64
		openCost int64
		want     string
	}{
		{"nothing", nil, 10, 1, ""},
		{"small files share a task", []Split{
			{File: f("a", 3), End: 3}, {File: f("b", 3), End: 3}, {File: f("c", 3), End: 3},
		}, 8, 1, "2 files: a:[0,3) b:[0,3) | c:[0,3)"},
		{"open cost counts", []Split{
			{File: f("a", 3), End: 3}, {File: f("b", 3), End: 3},
		}, 8, 2, "a:[0,3) | b:[0,3)"},
		{"full splits alone, the tail packed with the next file", []Split{
			{File: f("a", 25), End: 10}, {File: f("a", 25), Start: 10, End: 20}, {File: f("a", 25), Start: 20, End: 25},
			{File: f("b", 2), End: 2},
		}, 10, 1, "a:[0,10) | a:[10,20) | 2 files: a:[20,25) b:[0,2)"},
		{"a compressed file weighs three times its size", []Split{
			{File: f("a", 3), End: 3}, {File: gz, End: 10}, {File: f("b", 3), End: 3},
		}, 33, 0, "2 files: a:[0,3) g.gz:[0,10) | b:[0,3)"},
		{"columnar splits stay alone", []Split{
			{File: f("a", 1), End: 1}, {File: pq, End: 1, Unit: RowGroups}, {File: f("b", 1), End: 1}, {File: f("c", 1), End: 1},
		}, 100, 0, "a:[0,1) | p.parquet:row groups [0,1) | 2 files: b:[0,1) c:[0,1)"},
		{"target below one", []Split{
			{File: f("a", 1), End: 1}, {File: f("b", 1), End: 1},
		}, -5, 0, "a:[0,1) | b:[0,1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, task := range Pack(tc.splits, tc.target, tc.openCost) {
				got = append(got, task.String())
			}
			if s := strings.Join(got, " | "); s != tc.want {
				t.Errorf("Pack = %q, want %q", s, tc.want)
			}
		})
	}
}

func TestTaskString(t *testing.T) {
	var task Task
	for i := range 6 {
		task.Splits = append(task.Splits, Split{File: File{Path: fmt.Sprintf("f%d", i), Size: 9}, End: 9})
	}
	if got, want := task.String(), "6 files: f0:[0,9) f1:[0,9) … f5:[0,9)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	task.Splits = task.Splits[:4]
	if got, want := task.String(), "4 files: f0:[0,9) f1:[0,9) f2:[0,9) f3:[0,9)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if task.Len() != 36 || task.Bytes() != 36 {
		t.Errorf("Len, Bytes = %d, %d, want 36, 36", task.Len(), task.Bytes())
	}
}

// TestPackProperties checks, over random folders of files and split sizes,
// that packing the plan covers every byte of every file exactly once in
// plan order, that it is deterministic, and that task costs are bounded:
// a task of several splits costs at most target, and any two consecutive
// tasks cost more than target (so there are few tasks).
func TestPackProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		files := drawFiles(t, 60, func(f *File) { f.Compression = Gzip })
		splitSize := rapid.Int64Range(1, 3000).Draw(t, "splitSize")
		openCost := rapid.Int64Range(0, 500).Draw(t, "openCost")
		target := rapid.Int64Range(1, splitSize).Draw(t, "target")
		splits, err := Plan(files, splitSize)
		if err != nil {
			t.Fatal(err)
		}
		tasks := Pack(splits, target, openCost)
		if again := Pack(splits, target, openCost); !slices.EqualFunc(tasks, again, func(a, b Task) bool {
			return slices.Equal(a.Splits, b.Splits)
		}) {
			t.Fatal("Pack is not deterministic")
		}

		// Coverage: the tasks' splits, in order, are the plan's splits,
		// and each file's ranges tile [0, size) without gap or overlap.
		var flat []Split
		for _, task := range tasks {
			if len(task.Splits) == 0 {
				t.Fatal("empty task")
			}
			flat = append(flat, task.Splits...)
		}
		if !slices.Equal(flat, splits) {
			t.Fatalf("tasks hold %d splits, not the plan's %d in order", len(flat), len(splits))
		}
		next := map[string]int64{}
		for _, s := range flat {
			if s.Start != next[s.File.Path] {
				t.Fatalf("%v does not start where the file's last split ended (%d)", s, next[s.File.Path])
			}
			next[s.File.Path] = s.End
		}
		for _, f := range files {
			if next[f.Path] != f.Size {
				t.Fatalf("%s: covered up to %d of %d bytes", f.Path, next[f.Path], f.Size)
			}
		}

		// Bounds.
		costs := make([]int64, len(tasks))
		for i, task := range tasks {
			for _, s := range task.Splits {
				costs[i] += Cost(s, openCost)
			}
			if len(task.Splits) > 1 && costs[i] > target {
				t.Fatalf("task %v costs %d, over the target %d", task, costs[i], target)
			}
			if i > 0 && costs[i-1]+costs[i] <= target {
				t.Fatalf("tasks %d and %d cost %d together, within one target %d", i-1, i, costs[i-1]+costs[i], target)
			}
		}
	})
}

// drawFiles draws up to most files of up to 5,000 bytes, one in ten of
// them changed by odd.
func drawFiles(t *rapid.T, most int, odd func(*File)) []File {
	var files []File
	for i := range rapid.IntRange(0, most).Draw(t, "files") {
		f := File{Path: fmt.Sprintf("f%03d", i), Size: rapid.Int64Range(0, 5000).Draw(t, "size")}
		if rapid.IntRange(0, 9).Draw(t, "odd") == 0 {
			odd(&f)
		}
		files = append(files, f)
	}
	return files
}

// TestPackEvenProperties: even packing keeps every split once, in order,
// keeps columnar splits alone, makes no task over the target and its
// slack by more than a split, and, for splits that are small beside a
// task, makes a multiple of the workers' tasks of about equal cost.
func TestPackEvenProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		splits, target, openCost, workers := drawPacking(t)
		tasks := PackEven(splits, target, openCost, workers)

		var flat []Split
		var total, largest int64
		columnar := false
		costs := make([]int64, len(tasks))
		for i, task := range tasks {
			if len(task.Splits) == 0 {
				t.Fatal("empty task")
			}
			for _, s := range task.Splits {
				if s.File.Format == Parquet {
					columnar = true
					if len(task.Splits) > 1 {
						t.Fatalf("columnar split %v shares task %d", s, i)
					}
				}
				c := Cost(s, openCost)
				costs[i] += c
				largest = max(largest, c)
			}
			flat = append(flat, task.Splits...)
			total += costs[i]
		}
		if !slices.Equal(flat, splits) {
			t.Fatalf("tasks hold %d splits, not the %d given in order", len(flat), len(splits))
		}
		if columnar || total == 0 {
			return
		}
		most := target + target/evenSlack
		for i, c := range costs {
			if c > most+largest {
				t.Fatalf("task %d costs %d, over %d and a split", i, c, most)
			}
		}
		// Where every split is small beside a task's share, the tasks are
		// the multiple of the workers and about equal. (A split larger
		// than a share is a task of its own, and cuts the others.)
		n := (total + most - 1) / most
		n = (n + int64(workers) - 1) / int64(workers) * int64(workers)
		if largest*2*n > total {
			return
		}
		if int64(len(tasks)) != n {
			t.Fatalf("%d tasks of splits costing at most %d, %d in all, %d workers: want %d", len(tasks), largest, total, workers, n)
		}
		for i, c := range costs {
			if d := c - costs[0]; d > 2*largest || d < -2*largest {
				t.Fatalf("task %d costs %d, task 0 %d: more than two splits (%d) apart", i, c, costs[0], largest)
			}
		}
	})
}

// TestPackFolderOfGzip: 64 .gz files of 6 MiB of cost each (three times
// 2 MiB), for 2 workers, at a target of 32 MiB (five files to a task), as
// each packer plans a folder of them: Pack next-fit; PackTapered whole
// tasks, then tasks shrinking to a file, so that the workers finish
// together; PackEven 12 tasks (384 MiB is 11 of at most 36 MiB, made a
// multiple of 2), the first of 32 MiB, the rest sharing what is left.
func TestPackFolderOfGzip(t *testing.T) {
	var splits []Split
	for i := range 64 {
		f := File{Path: fmt.Sprintf("doc-%02d.gz", i), Size: 2 << 20, Compression: Gzip}
		splits = append(splits, Split{Index: i, File: f, End: f.Size})
	}
	const target = 32 << 20
	for _, tc := range []struct {
		name  string
		tasks []Task
		want  []int
	}{
		{"Pack", Pack(splits, target, 0), []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4}},
		{"PackTapered", PackTapered(splits, target, 0, 2), []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 2, 1, 1, 1}},
		{"PackEven", PackEven(splits, target, 0, 2), []int{5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6}},
	} {
		var files []int
		for _, task := range tc.tasks {
			files = append(files, len(task.Splits))
		}
		if !slices.Equal(files, tc.want) {
			t.Errorf("%s: files per task %v, want %v", tc.name, files, tc.want)
		}
	}
}

// TestPackTaperedProperties: tapered packing keeps every split once, in
// order, keeps columnar splits alone, keeps each task of several splits
// within the target (but for the last splits, which join the task before
// them), and makes only a few tasks more than Pack's bound.
func TestPackTaperedProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		splits, target, openCost, workers := drawPacking(t)
		tasks := PackTapered(splits, target, openCost, workers)

		// after[k] is the cost of splits[k:].
		after := make([]int64, len(splits)+1)
		for k := len(splits) - 1; k >= 0; k-- {
			after[k] = after[k+1] + Cost(splits[k], openCost)
		}
		var flat []Split
		var total, columnar int64
		for i, task := range tasks {
			if len(task.Splits) == 0 {
				t.Fatal("empty task")
			}
			var cost int64
			for j, s := range task.Splits {
				if s.File.Format == Parquet {
					columnar++
					if len(task.Splits) > 1 {
						t.Fatalf("columnar split %v shares task %d", s, i)
					}
				}
				cost += Cost(s, openCost)
				// Past the target only by taking in the last splits,
				// which cost less than the floor in all.
				if j > 0 && cost > target && after[len(flat)+j] >= max(target/taperFloor, 1) {
					t.Fatalf("task %d costs %d with its split %d, over the target %d, and %d is left after it",
						i, cost, j, target, after[len(flat)+j])
				}
			}
			flat = append(flat, task.Splits...)
			total += cost
		}
		if !slices.Equal(flat, splits) {
			t.Fatalf("tasks hold %d splits, not the %d given in order", len(flat), len(splits))
		}
		// Pack's bound, and a task more for each columnar split and
		// each split it cuts a run of others in two.
		if bound := 2*total/target + 1 + int64(7*workers) + 2*columnar; int64(len(tasks)) > bound {
			t.Fatalf("%d tasks for a cost of %d at target %d, %d workers: more than %d", len(tasks), total, target, workers, bound)
		}
	})
}

// drawPacking draws what the packers of a phase run side by side are
// given: up to 200 splits (some columnar), a target, an open cost and a
// number of workers.
func drawPacking(t *rapid.T) (splits []Split, target, openCost int64, workers int) {
	for i, f := range drawFiles(t, 200, func(f *File) { f.Format = Parquet }) {
		splits = append(splits, Split{Index: i, File: f, End: f.Size})
	}
	target = rapid.Int64Range(1, 20000).Draw(t, "target")
	openCost = rapid.Int64Range(0, 500).Draw(t, "openCost")
	workers = rapid.IntRange(1, 16).Draw(t, "workers")
	return splits, target, openCost, workers
}

// TestCutAt: a task cut anywhere reads, in its two parts, its splits as
// they were, and a cut that would leave either part empty, or cut a split
// that may not be cut within, is refused.
func TestCutAt(t *testing.T) {
	text := File{Path: "a.txt", Size: 100, Format: Text}
	gz := File{Path: "b.gz", Size: 50, Format: Text, Compression: Gzip}
	csv := File{Path: "c.csv", Size: 80, Format: CSV}
	tk := Task{Splits: []Split{{File: text, Start: 0, End: 100}, {File: gz, Start: 0, End: 50}, {File: csv, Start: 0, End: 80}}}

	kept, rest, ok := tk.CutAt(0, 40)
	require.True(t, ok)
	require.Equal(t, []Split{{File: text, Start: 0, End: 40}}, kept.Splits)
	require.Equal(t, []Split{{File: text, Start: 40, End: 100}, tk.Splits[1], tk.Splits[2]}, rest.Splits)
	require.Equal(t, tk.Len(), kept.Len()+rest.Len())

	kept, rest, ok = tk.CutAt(2, 0)
	require.True(t, ok)
	require.Equal(t, tk.Splits[:2], kept.Splits)
	require.Equal(t, tk.Splits[2:], rest.Splits)
	kept.Splits = append(kept.Splits, Split{}) // must not write over rest
	require.Equal(t, csv, rest.Splits[0].File)

	for _, c := range []struct {
		i  int
		at int64
	}{{0, 0}, {0, 100}, {1, 10}, {2, 5}, {3, 0}, {-1, 0}, {0, -1}} {
		_, _, ok := tk.CutAt(c.i, c.at)
		require.False(t, ok, "cut at split %d offset %d", c.i, c.at)
	}
}

// TestCutAtChunk: a chunk of a spooled file is cut as a plain file is,
// its rest reading the chunk file from the cut on; a cut of the rest
// adds up.
func TestCutAtChunk(t *testing.T) {
	gz := File{Path: "a.gz", Size: 50, Format: Text, Compression: Gzip}
	chunk := Split{File: gz, Start: 1000, End: 2000, Chunk: "/w/chunk-00003"}
	kept, rest, ok := Task{Splits: []Split{chunk}}.CutAt(0, 1300)
	require.True(t, ok)
	require.Equal(t, Split{File: gz, Start: 1000, End: 1300, Chunk: "/w/chunk-00003"}, kept.Splits[0])
	require.Equal(t, Split{File: gz, Start: 1300, End: 2000, Chunk: "/w/chunk-00003", ChunkOffset: 300}, rest.Splits[0])
	_, rest2, ok := rest.CutAt(0, 1700)
	require.True(t, ok)
	require.Equal(t, int64(700), rest2.Splits[0].ChunkOffset)
}

// TestChunkCutProperty: a chunk cut anywhere, twice, reads in its three
// parts its lines as the whole chunk does, each once, with their offsets
// in the decompressed file; a reader of the first part stopped early
// (StopAt) agrees.
func TestChunkCutProperty(t *testing.T) {
	dir := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		data := genFile(t)
		if len(data) < 3 {
			return
		}
		path := filepath.Join(dir, "chunk")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		base := rapid.Int64Range(0, 1<<40).Draw(t, "base")
		n := int64(len(data))
		whole := Split{File: File{Path: "x.gz", Size: 9, Compression: Gzip}, Start: base, End: base + n, Chunk: path}
		read := func(s Split) []refLine {
			lr, err := Open(s)
			if err != nil {
				t.Fatalf("open %v: %v", s, err)
			}
			lines, err := readAll(t, lr)
			if err != nil {
				t.Fatalf("read %v: %v", s, err)
			}
			return lines
		}
		want := read(whole)
		a := rapid.Int64Range(base+1, base+n-1).Draw(t, "a")
		kept, rest, ok := Task{Splits: []Split{whole}}.CutAt(0, a)
		if !ok {
			t.Fatalf("cut at %d refused", a)
		}
		got := read(kept.Splits[0])
		if b := rapid.Int64Range(a, base+n-1).Draw(t, "b"); b > a {
			mid, last, ok := rest.CutAt(0, b)
			if !ok {
				t.Fatalf("cut of the rest at %d refused", b)
			}
			got = append(got, read(mid.Splits[0])...)
			got = append(got, read(last.Splits[0])...)
		} else {
			got = append(got, read(rest.Splits[0])...)
		}
		equalLines(t, got, want)
	})
}
