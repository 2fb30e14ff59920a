// The programs these tests run are shell command lines.
//go:build unix

package streaming

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

type reports struct {
	counters map[string]int64
	status   []string
}

func (r *reports) Count(name string, delta int64) {
	if r.counters == nil {
		r.counters = map[string]int64{}
	}
	r.counters[name] += delta
}
func (r *reports) SetStatus(text string) { r.status = append(r.status, text) }

// A map task starts one mapper for all its records, whatever files they
// come from (as Hadoop starts one per task), and runs the combiner over its
// sorted output. A task of several files names none in the environment;
// --input-key file puts each record's file before its line.
func TestMapTaskOneMapperAndCombiner(t *testing.T) {
	var rep reports
	m, err := NewMapTask(Commands{
		// The mapper says which file its environment names, then passes
		// "FILE<TAB>LINE" through; the combiner counts the lines of each
		// key (uniq -c), which shows it saw them sorted.
		Mapper:   `echo 'reporter:counter:T,started,1' >&2; printf '%s\t0\n' "${mapreduce_map_input_file-nofile}"; cat`,
		Combiner: `cut -f1 | uniq -c | awk '{ printf "%s\t%d\n", $2, $1 }'`,
		InputKey: InputKeyFile,
	}, Task{Job: "j", ID: "map-00002", Attempt: 1, IsMap: true}, []Split{{File: "a", Length: 10}, {File: "b", Start: 5, Length: 20}}, &rep)
	require.NoError(t, err)
	var got []string
	emit := func(k, v []byte) { got = append(got, string(k)+"="+string(v)) }
	ctx := context.Background()
	for _, r := range []struct{ file, line string }{{"a", "1"}, {"a", "2"}, {"b", "3"}, {"a", "4"}} {
		require.NoError(t, m.Map(ctx, r.file, 0, []byte(r.line), emit))
	}
	require.NoError(t, m.Close(ctx, emit))
	require.Equal(t, []string{"a=3", "b=1", "nofile=1"}, got)
	require.Equal(t, int64(1), rep.counters["T.started"], "one mapper for the task")
	require.Equal(t, int64(5), rep.counters[mapreduce.CombineInputRecords])
	require.Equal(t, int64(3), rep.counters[mapreduce.CombineOutputRecords])
}

// A task that reads one file names it, with the byte range of its splits,
// and --input-key offset puts each record's offset before its line.
func TestMapTaskOneFileEnvAndOffsetKey(t *testing.T) {
	var rep reports
	m, err := NewMapTask(Commands{
		Mapper:   `printf '%s\t%s+%s\n' "$mapreduce_map_input_file" "$mapreduce_map_input_start" "$mapreduce_map_input_length"; cat`,
		InputKey: InputKeyOffset,
	}, Task{ID: "map-00000", IsMap: true}, []Split{{File: "f", Start: 100, Length: 50}, {File: "f", Start: 150, Length: 30}}, &rep)
	require.NoError(t, err)
	var got []string
	emit := func(k, v []byte) { got = append(got, string(k)+"="+string(v)) }
	ctx := context.Background()
	require.NoError(t, m.Map(ctx, "f", 100, []byte("x y"), emit))
	require.NoError(t, m.Map(ctx, "f", 171, []byte("z"), emit))
	require.NoError(t, m.Close(ctx, emit))
	require.Equal(t, []string{"f=100+80", "100=x y", "171=z"}, got)

	_, err = NewMapTask(Commands{Mapper: "cat", InputKey: "name"}, Task{ID: "map-00000", IsMap: true}, nil, &rep)
	require.ErrorIs(t, err, mapreduce.ErrConfig)
}

// A map task without records still runs its mapper once.
func TestMapTaskWithoutRecords(t *testing.T) {
	var rep reports
	m, err := NewMapTask(Commands{Mapper: `printf 'ran\t%s\n' "$mapreduce_map_input_length"`},
		Task{ID: "map-00000", IsMap: true}, []Split{{File: "f", Length: 7}}, &rep)
	require.NoError(t, err)
	var got []string
	require.NoError(t, m.Close(context.Background(), func(k, v []byte) { got = append(got, string(k)+"="+string(v)) }))
	require.Equal(t, []string{"ran=7"}, got)
}

func TestReduceTask(t *testing.T) {
	var rep reports
	r, err := NewReduceTask(Commands{Reducer: `echo 'reporter:status:reducing' >&2; awk -F'\t' '{ n[$1] += $2 } END { for (k in n) printf "%s\t%d\n", k, n[k] }'`},
		Task{ID: "reduce-00001", Partition: 1}, &rep)
	require.NoError(t, err)
	var got []string
	emit := func(k, v []byte) { got = append(got, string(k)+"="+string(v)) }
	ctx := context.Background()
	require.NoError(t, r.Reduce(ctx, []byte("x"), slices.Values([][]byte{[]byte("1"), []byte("2")}), emit))
	require.NoError(t, r.Reduce(ctx, []byte("y"), slices.Values([][]byte{[]byte("5")}), emit))
	require.NoError(t, r.Close(ctx, emit))
	slices.Sort(got)
	require.Equal(t, []string{"x=3", "y=5"}, got)
	require.Equal(t, []string{"reducing"}, rep.status)
}

// In skipping mode the task finds the records the mapper fails on, skips
// them, and keeps the output of every other record exactly once.
func TestMapTaskSkipsBadRecords(t *testing.T) {
	var rep reports
	m, err := NewMapTask(Commands{
		// The mapper dies on a line "BAD", having written the lines
		// before it.
		Mapper: `echo 'reporter:counter:T,runs,1' >&2; while read -r l; do if [ "$l" = BAD ]; then exit 1; fi; printf '%s\t1\n' "$l"; done`,
	}, Task{ID: "map-00000", Attempt: 2, IsMap: true}, []Split{{File: "f", Length: 1000}}, &rep)
	require.NoError(t, err)
	type skip struct {
		offset int64
		err    string
	}
	var skipped []skip
	m.SkipBadRecords(func(file string, offset int64, err error) error {
		require.Equal(t, "f", file)
		skipped = append(skipped, skip{offset, err.Error()})
		return nil
	})
	var got, want []string
	emit := func(k, v []byte) { got = append(got, string(k)) }
	ctx := context.Background()
	for i := range 100 {
		line := fmt.Sprintf("r%03d", i)
		if i == 17 || i == 60 {
			line = "BAD"
		} else {
			want = append(want, line)
		}
		require.NoError(t, m.Map(ctx, "f", int64(i*10), []byte(line), emit))
	}
	require.NoError(t, m.Close(ctx, emit))
	require.Equal(t, want, got)
	require.Len(t, skipped, 2)
	require.Equal(t, int64(170), skipped[0].offset)
	require.Equal(t, int64(600), skipped[1].offset)
	require.Contains(t, skipped[0].err, "exit status 1")
	// Counters come only from the runs whose output was kept.
	require.Less(t, rep.counters["T.runs"], int64(20))
}
