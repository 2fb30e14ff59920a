package mapreduce_test

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// firstWords is a byte-level job registered by name, shaped like a Streaming
// job: its mapper holds every pair back until the end of its task's input
// (as a child process's unread output would be) and emits them from Close;
// its reducer writes text keys and counts.
type firstWords struct{}

func (firstWords) Info() mapreduce.JobInfo {
	return mapreduce.JobInfo{Name: "test-bytes-first-words", Params: []mapreduce.Param{{Name: "suffix", Default: "!"}},
		KeyType: "[]byte", ValueType: "[]byte", OutKeyType: "[]byte", OutValueType: "int64"}
}

type firstWordsMapper struct {
	tc   *mapreduce.TaskContext
	out  mapreduce.MapOutput
	held [][]byte
}

func (firstWords) NewMapper(tc *mapreduce.TaskContext, out mapreduce.MapOutput) (mapreduce.Mapper, error) {
	tc.Count("mappers", 1)
	return &firstWordsMapper{tc: tc, out: out}, nil
}

func (m *firstWordsMapper) Map(rec mapreduce.Record) error {
	w, _, _ := bytes.Cut(rec.Value, []byte(" "))
	m.held = append(m.held, append(bytes.Clone(w), m.tc.Param("suffix")...))
	return nil
}

func (m *firstWordsMapper) Close() error {
	for _, w := range m.held {
		m.out.Emit(w, []byte("1"))
	}
	m.held = nil
	return nil
}

func (m *firstWordsMapper) Abort() { m.held = nil }

type firstWordsReducer struct{ w output.Writer[[]byte, int64] }

func (firstWords) NewReducer(tc *mapreduce.TaskContext, path string, opts output.Options) (mapreduce.Reducer, error) {
	opts.TextBytes = true
	w, err := output.Create[[]byte, int64](path, opts)
	return &firstWordsReducer{w}, err
}

func (r *firstWordsReducer) Reduce(key []byte, values iter.Seq[[]byte]) error {
	var n int64
	for v := range values {
		if string(v) != "1" {
			return fmt.Errorf("value %q", v)
		}
		n++
	}
	return r.w.Write(key, n)
}

func (r *firstWordsReducer) Close() error   { return r.w.Close() }
func (r *firstWordsReducer) Abort()         { r.w.Abort() }
func (r *firstWordsReducer) Records() int64 { return r.w.Records() }
func (r *firstWordsReducer) Bytes() int64   { return r.w.Bytes() }

func init() { mapreduce.RegisterByteJob(firstWords{}) }

// TestByteJobByName runs a byte-level job by its registered name on both
// engines: the workers find it, parameters reach it, pairs emitted from
// Close are shuffled, and the output matches an independent count.
func TestByteJobByName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	var text strings.Builder
	want := map[string]int64{}
	for i := range 3000 {
		w := fmt.Sprintf("w%d", i%37)
		fmt.Fprintf(&text, "%s and more words\n", w)
		want[w+"?"]++
	}
	require.NoError(t, os.WriteFile(path, []byte(text.String()), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			res, err := mapreduce.RunNamed(context.Background(), "test-bytes-first-words", mapreduce.Config{
				Engine: engine, Inputs: []string{path}, Output: out, Workers: 2, Reducers: 3,
				SplitSize: 8 << 10, TmpDir: t.TempDir(), Params: map[string]string{"suffix": "?"},
			})
			require.NoError(t, err)
			require.Greater(t, res.MapTasks, 1)
			require.EqualValues(t, res.MapTasks, res.Counters["mappers"], "one mapper per map task")
			require.EqualValues(t, 3000, res.Counters[mapreduce.MapOutputRecords])
			require.EqualValues(t, len(want), res.Counters[mapreduce.ReduceOutputRecords])
			require.Equal(t, want, parseCounts(t, readParts(t, out, 3)))
		})
	}
}
