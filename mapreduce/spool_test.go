package mapreduce_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/compresstest"
	"github.com/quern-dev/quern/mapreduce"
)

// spoolText is about 700 KB of lines of random words, with a few lines
// longer than a chunk, so that one compressed file of it is cut into
// about ten chunks of 64 KiB.
func spoolText() []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "straße", "日本"}
	var b bytes.Buffer
	for i := 0; b.Len() < 700<<10; i++ {
		if i%3000 == 1 {
			b.WriteString(strings.Repeat("long ", 20<<10)) // 100 KiB
		}
		for range 1 + rng.IntN(12) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString(fmt.Sprint(i))
		b.WriteByte('\n')
	}
	b.WriteString("no final newline")
	return b.Bytes()
}

// TestSpooledCompressedFile maps one compressed file in many tasks (its
// chunks, decompressed by the spool task) on both engines: a
// single-member gzip, a gzip of many members cut mid-line (as `cat a.gz
// b.gz` or pigz give), a zstd file and a bzip2 file of several blocks
// (decoded side by side, internal/parbzip2). The counts equal a count made here,
// every decompressed byte is read once, and on the local engine a worker
// killed in the middle of a chunk's task costs one retry, not the answer.
func TestSpooledCompressedFile(t *testing.T) {
	text := spoolText()
	ref := countWords(map[string][]byte{"": text})
	dir := t.TempDir()
	var members []byte
	for i := 0; i < len(text); i += 50_000 {
		members = append(members, compresstest.Compress(t, input.Gzip, text[i:min(i+50_000, len(text))])...)
	}
	files := map[string][]byte{
		"single.gz":  compresstest.Compress(t, input.Gzip, text),
		"members.gz": members,
		"text.zst":   compresstest.Compress(t, input.Zstd, text),
		"text.bz2":   compresstest.Compress(t, input.Bzip2, text),
	}
	for name, z := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, z, 0o644))
		for _, engine := range engines {
			t.Run(name+"/"+engine, func(t *testing.T) {
				if engine == mapreduce.EngineLocal {
					// map-00000 is the spool task; map-00003 maps the
					// third chunk. Its first attempt's worker dies.
					faults := "map-00003/1@record:100=kill"
					require.NoError(t, mapreduce.ParseFaults(faults))
					t.Setenv("QUERN_FAULTS", faults)
				}
				res, out, err := runShape(t, engine, mapreduce.Config{Inputs: []string{path}, Reducers: 2, SplitSize: 16 << 10})
				require.NoError(t, err)
				require.Equal(t, ref, parseCounts(t, readParts(t, out, 2)))
				require.Equal(t, int64(len(text)), res.Counters[mapreduce.MapInputBytes], "every decompressed byte read once")
				require.Greater(t, res.MapTasks, 5, "the file is mapped in chunks")
				if engine == mapreduce.EngineLocal {
					require.Contains(t, strings.Join(failedAttempts(res), "\n"), "map-00003/1:", "the fault struck")
				}
				for _, task := range res.Tasks {
					if task.ID != "map-00000" && task.Phase == "map" {
						require.Contains(t, task.Input, path+":decompressed [", "a chunk's task names the file")
					}
				}
			})
		}
	}
}

// TestSpooledFileCorrupt: a spooled file cut short fails the job, naming
// the file, after its first chunks were mapped, as an input problem
// (ErrConfig), not retried; nothing is committed.
func TestSpooledFileCorrupt(t *testing.T) {
	for _, c := range []input.Compression{input.Gzip, input.Bzip2} {
		z := compresstest.Compress(t, c, spoolText())
		path := filepath.Join(t.TempDir(), "cut."+c.String())
		require.NoError(t, os.WriteFile(path, z[:len(z)*3/4], 0o644))
		testSpooledFileCorrupt(t, path)
	}
}

func testSpooledFileCorrupt(t *testing.T, path string) {
	for _, engine := range engines {
		t.Run(filepath.Base(path)+"/"+engine, func(t *testing.T) {
			res, out, err := runShape(t, engine, mapreduce.Config{Inputs: []string{path}, Reducers: 2, SplitSize: 16 << 10, MaxAttempts: 2})
			require.Nil(t, res)
			require.ErrorIs(t, err, input.ErrCorrupt)
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, "split "+path+":[0,")
			require.ErrorContains(t, err, "truncated")
			require.NotContains(t, err.Error(), "attempt")
			assertNothingCommitted(t, out)
		})
	}
}
