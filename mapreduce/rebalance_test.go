package mapreduce_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/compresstest"
	"github.com/quern-dev/quern/mapreduce"
)

// TestRebalance: a worker left idle takes over half of what a running map
// task has left (the task waits at its second record until it is asked):
// cut within a plain file, or, where the task reads a compressed file,
// from a later file of its own on, or within a chunk of a spooled file. The counts equal a count made here,
// every input byte is read once, and a task whose worker dies after it
// gave up half is retried on the half it kept.
func TestRebalance(t *testing.T) {
	text := spoolText() // 700 KB of lines
	dir := t.TempDir()
	files := map[string][]byte{} // the text of files/, by file: words are cut at their ends
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
		if strings.HasPrefix(name, "files/") {
			files[name] = data
		}
	}
	write("one.txt", text)
	write("one.gz", compresstest.Compress(t, input.Gzip, text))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "files"), 0o755))
	write("files/a.gz", compresstest.Compress(t, input.Gzip, text[:20<<10]))
	files["files/a.gz"] = text[:20<<10]
	for i, off := 0, 20<<10; off < len(text); i, off = i+1, off+20<<10 {
		write(fmt.Sprintf("files/b%02d.txt", i), text[off:min(off+20<<10, len(text))])
	}

	for _, c := range []struct {
		name, input, faults string
		within              bool // the cut is within one.txt, else between files/'s files
		died                bool
	}{
		{"within a file", "one.txt", "map-00000/1@record:2=await-split", true, false},
		{"worker dies after", "one.txt", "map-00000/1@record:2=await-split;map-00000/1@record:3000=kill", true, true},
		{"from a later file", "files", "map-00000/1@record:2=await-split", false, false},
		// map-00000 is the spool task; map-00002 maps the second chunk.
		{"within a chunk", "one.gz", "map-00002/1@record:2=await-split", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := mapreduce.Config{Inputs: []string{filepath.Join(dir, c.input)}, Reducers: 2, Workers: 2,
				SplitSize: 1 << 20, Rebalance: 16 << 10}
			spooled := strings.HasSuffix(c.input, ".gz")
			if spooled {
				cfg.SplitSize = 128 << 10 // chunks of about that
			}
			planned := cfg
			planned.Output = filepath.Join(t.TempDir(), "plan")
			plan, err := mapreduce.Plan("wordcount", planned)
			require.NoError(t, err)
			first := plan.Tasks[0]
			if spooled {
				require.Equal(t, 1, plan.Spooled, "the file is spooled")
			}
			if !c.within {
				require.Equal(t, "a.gz", filepath.Base(first.Splits[0].File.Path), "the first task starts with the compressed file")
				require.Greater(t, len(first.Splits), 3, "and has later files to give up")
			}

			require.NoError(t, mapreduce.ParseFaults(c.faults))
			t.Setenv("QUERN_FAULTS", c.faults)
			res, out, err := runShape(t, mapreduce.EngineLocal, cfg)
			require.NoError(t, err)
			want := map[string][]byte{"": text}
			if !c.within {
				want = files
			}
			require.Equal(t, countWords(want), parseCounts(t, readParts(t, out, 2)))
			require.Equal(t, int64(len(text)), res.Counters[mapreduce.MapInputBytes], "every input byte read once")
			if c.died {
				require.Contains(t, strings.Join(failedAttempts(res), "\n"), "map-00000/1:", "the fault struck")
			}

			if spooled {
				// The chunk kept [a, c) and a task of its own read [c, b).
				inputs := map[string]string{}
				for _, task := range res.Tasks {
					inputs[task.ID] = task.Input
				}
				var a, cut int64
				_, err := fmt.Sscanf(inputs["map-00002"][strings.LastIndex(inputs["map-00002"], "["):], "[%d,%d)", &a, &cut)
				require.NoError(t, err, inputs["map-00002"])
				var rest []string
				for id, in := range inputs {
					if id != "map-00002" && strings.Contains(in, fmt.Sprintf("decompressed [%d,", cut)) {
						rest = append(rest, in)
					}
				}
				require.Len(t, rest, 1, "a task read the rest of map-00002 (%s) from %d: %v", inputs["map-00002"], cut, inputs)
				return
			}
			// A task beyond the plan's took over the end of the first.
			require.Greater(t, res.MapTasks, len(plan.Tasks))
			var taken []string
			for _, task := range res.Tasks {
				var n int
				if _, err := fmt.Sscanf(task.ID, "map-%d", &n); err == nil && n >= len(plan.Tasks) {
					taken = append(taken, task.Input)
				}
			}
			var gave []string // what the first task could give
			if c.within {
				gave = []string{filepath.Join(dir, "one.txt") + ":["}
			} else {
				for k := 1; k < len(first.Splits); k++ {
					gave = append(gave, input.Task{Splits: first.Splits[k:]}.String())
				}
			}
			found := false
			for _, in := range taken {
				for _, g := range gave {
					found = found || strings.HasPrefix(in, g) && !strings.HasPrefix(in, g+"0,")
				}
			}
			require.True(t, found, "the first task %v gave none of %q; new tasks read %q", first, gave, taken)
		})
	}
}

// TestRebalanceOff: with Config.Rebalance below zero (--rebalance 0) no
// running map task is asked to give up part of its input, though a worker
// idles: the one task waits at its second record for a request that does
// not come (for the fault's two seconds), then maps all of it. The input
// is over twice DefaultRebalance, so that a Rebalance of -1 taken for the
// default, or for any size, would split it.
func TestRebalanceOff(t *testing.T) {
	text := bytes.Repeat(append(spoolText(), '\n'), 13)
	require.Greater(t, int64(len(text)), int64(2*mapreduce.DefaultRebalance))
	path := filepath.Join(t.TempDir(), "one.txt")
	require.NoError(t, os.WriteFile(path, text, 0o644))
	cfg := mapreduce.Config{Inputs: []string{path}, Reducers: 2, Workers: 2, SplitSize: 32 << 20, Rebalance: -1}

	faults := "map-00000/1@record:2=await-split:2s"
	require.NoError(t, mapreduce.ParseFaults(faults))
	t.Setenv("QUERN_FAULTS", faults)
	res, out, err := runShape(t, mapreduce.EngineLocal, cfg)
	require.NoError(t, err)
	require.Equal(t, countWords(map[string][]byte{"": text}), parseCounts(t, readParts(t, out, 2)))
	require.Equal(t, 1, res.MapTasks, "the one map task was not split")
	require.Equal(t, int64(len(text)), res.Counters[mapreduce.MapInputBytes])
}
