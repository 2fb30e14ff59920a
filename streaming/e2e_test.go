//go:build unix

package streaming

import (
	"context"
	"fmt"
	"maps"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// The end-to-end tests run Streaming jobs on the local engine: the test
// binary is re-executed as the workers (TestMain calls mapreduce.Main), and
// the workers start the programs.

// examples is the folder of the example programs. Commands run in their
// task's working folder, so a script they name has an absolute path (or is
// shipped with Files).
var examples, _ = filepath.Abs(filepath.Join("..", "examples", "streaming"))

func need(t *testing.T, program string) {
	t.Helper()
	_, err := osexec.LookPath(program)
	require.NoError(t, err, "%s is needed by the Streaming examples (.ci/run installs it)", program)
}

func script(lang, app, role string) string {
	ext := map[string]string{"python3": ".py", "node": ".js"}[lang]
	return filepath.Join(examples, app, role+ext)
}

func TestWordCountExamples(t *testing.T) {
	for _, lang := range []string{"python3", "node"} {
		t.Run(lang, func(t *testing.T) {
			need(t, lang)
			in, byFile := words(t, 3, 300)
			want := wordCounts(byFile)
			mapper, reducer := script(lang, "wordcount", "mapper"), script(lang, "wordcount", "reducer")
			cfg := config(t, in)
			// The scripts are shipped into the tasks' folders, and named
			// there; the reducer is the combiner too.
			run := lang + " reducer" + filepath.Ext(reducer)
			cmds := Commands{Mapper: lang + " mapper" + filepath.Ext(mapper), Combiner: run, Reducer: run,
				Files: []string{mapper, reducer}}
			res, err := Run(context.Background(), cmds, cfg)
			require.NoError(t, err)
			require.Equal(t, want, readOutput(t, res, output.Options{}))
			require.Greater(t, res.MapTasks, 1)
		})
	}
}

func TestInvertedIndexExamples(t *testing.T) {
	for _, lang := range []string{"python3", "node"} {
		t.Run(lang, func(t *testing.T) {
			need(t, lang)
			in, byFile := words(t, 20, 30)
			docs := map[string]map[string]bool{}
			for f, ws := range byFile {
				for _, w := range ws {
					if docs[w] == nil {
						docs[w] = map[string]bool{}
					}
					docs[w][f] = true
				}
			}
			want := map[string]string{}
			for w, fs := range docs {
				want[w] = strings.Join(slices.Sorted(maps.Keys(fs)), ",")
			}
			cfg := config(t, in)
			cfg.SplitSize = 1 << 20 // whole files, packed several to a task
			res, err := Run(context.Background(), Commands{
				Mapper:   lang + " " + script(lang, "invertedindex", "mapper"),
				Reducer:  lang + " " + script(lang, "invertedindex", "reducer"),
				InputKey: InputKeyFile,
			}, cfg)
			require.NoError(t, err)
			require.Equal(t, want, readOutput(t, res, output.Options{}))
			require.Less(t, res.MapTasks, len(byFile), "files packed several to a task")
		})
	}
}

// A folder of thousands of tiny files is a few map tasks, and each task
// starts one mapper (as Hadoop starts one per task), not one per file:
// every mapper appends a line to a file, which counts the starts.
func TestManyTinyFilesOneMapperPerTask(t *testing.T) {
	const files = 3000
	in := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.Mkdir(in, 0o755))
	want := map[string]int{}
	for f := range files {
		line := fmt.Sprintf("w%d w%d common\n", f%7, f%13)
		for _, w := range strings.Fields(line) {
			want[w]++
		}
		require.NoError(t, os.WriteFile(filepath.Join(in, fmt.Sprintf("f%04d.txt", f)), []byte(line), 0o644))
	}
	starts := filepath.Join(t.TempDir(), "starts")
	cfg := config(t, in)
	cfg.SplitSize = 64 << 20
	res, err := Run(context.Background(), Commands{
		Mapper:  fmt.Sprintf(`echo "$mapreduce_task_id" >> %s; awk '{ for (i = 1; i <= NF; i++) n[$i]++ } END { for (w in n) printf "%%s\t%%d\n", w, n[w] }'`, starts),
		Reducer: `awk -F'\t' '{ n[$1] += $2 } END { for (w in n) printf "%s\t%d\n", w, n[w] }'`,
	}, cfg)
	require.NoError(t, err)
	got := readOutput(t, res, output.Options{})
	require.Len(t, got, len(want))
	for w, n := range want {
		require.Equal(t, strconv.Itoa(n), got[w], w)
	}
	log, err := os.ReadFile(starts)
	require.NoError(t, err)
	started := strings.Fields(string(log))
	require.Equal(t, res.MapTasks, len(started), "mappers started: one per map task, not per file")
	require.Less(t, res.MapTasks, files/100, "tiny files packed into few tasks")
}

// pairs writes files of unique "key<TAB>value" lines and returns the folder
// and every line.
func pairs(t *testing.T, files, lines int) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.Mkdir(dir, 0o755))
	var all []string
	for f := range files {
		var b strings.Builder
		for i := range lines {
			line := fmt.Sprintf("k%02d-%05d\tv%d", f, i, i*7)
			all = append(all, line)
			b.WriteString(line + "\n")
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("part%02d.txt", f)), []byte(b.String()), 0o644))
	}
	slices.Sort(all)
	return dir, all
}

// outputLines reads every line of a text output, sorted.
func outputLines(t *testing.T, res *mapreduce.Result) []string {
	t.Helper()
	var lines []string
	for _, part := range res.Parts {
		b, err := os.ReadFile(part)
		require.NoError(t, err)
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	lines = slices.DeleteFunc(lines, func(s string) bool { return s == "" })
	slices.Sort(lines)
	return lines
}

// attempts returns the errors of a task's attempts, "" for one that did
// not fail.
func attempts(res *mapreduce.Result, task string) []string {
	var errs []string
	for _, tr := range res.Tasks {
		if tr.ID == task {
			for _, a := range tr.Attempts {
				errs = append(errs, a.Error)
			}
		}
	}
	return errs
}

// onFirstAttempt is a mapper that runs bad on the first attempt of task
// map-00001 and passes its input through otherwise.
func onFirstAttempt(bad string) string {
	return fmt.Sprintf(`if [ "$mapreduce_task_attempt_id" = map-00001_1 ]; then %s; fi; exec cat`, bad)
}

// Without a reducer command, the mapper's pairs, sorted and grouped by
// key, are the output (an identity reduce, not a map-only job).
func TestNoReducerOutputsTheMapOutput(t *testing.T) {
	in, want := pairs(t, 3, 200)
	cfg := config(t, in)
	res, err := Run(context.Background(), Commands{Mapper: "cat"}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
}

// TestLinesContainingReachTheMapper: with LinesContaining the mapper is
// piped only the lines that hold it, and the others are counted as read.
func TestLinesContainingReachTheMapper(t *testing.T) {
	in, all := pairs(t, 3, 200)
	var want []string
	for _, line := range all {
		if strings.Contains(line, "v7") {
			want = append(want, line)
		}
	}
	require.NotEmpty(t, want)
	res, err := Run(context.Background(), Commands{Mapper: "cat", LinesContaining: "v7"}, config(t, in))
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
	require.Equal(t, int64(len(all)), res.Counters[mapreduce.MapInputRecords])
	require.Equal(t, int64(len(all)-len(want)), res.Counters[mapreduce.FilteredInputRecords])

	_, err = Commands{Mapper: "cat", LinesContaining: "v7\n"}.Params()
	require.ErrorIs(t, err, mapreduce.ErrConfig)
}

func TestFailedMapperIsRetried(t *testing.T) {
	for name, bad := range map[string]string{
		"exit 1": "cat >/dev/null; echo 'oops on purpose' >&2; exit 1",
		"crash":  "echo 'oops on purpose' >&2; kill -SEGV $$",
	} {
		t.Run(name, func(t *testing.T) {
			in, want := pairs(t, 3, 200)
			cfg := config(t, in)
			res, err := Run(context.Background(), Commands{Mapper: onFirstAttempt(bad)}, cfg)
			require.NoError(t, err)
			require.Equal(t, want, outputLines(t, res))
			errs := attempts(res, "map-00001")
			require.Len(t, errs, 2)
			require.Contains(t, errs[0], "oops on purpose")
			require.Contains(t, errs[0], map[string]string{"exit 1": "exit status 1", "crash": "segmentation fault"}[name])
			require.Empty(t, errs[1])
		})
	}
}

func TestAlwaysFailingMapperFailsTheJob(t *testing.T) {
	in, _ := pairs(t, 2, 50)
	cfg := config(t, in)
	cfg.MaxAttempts = 2
	_, err := Run(context.Background(), Commands{Mapper: "cat >/dev/null; echo 'cannot go on' >&2; exit 7"}, cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "map-0000")
	require.Contains(t, err.Error(), "exit status 7")
	require.Contains(t, err.Error(), "cannot go on")
	require.NoFileExists(t, cfg.Output+"/_SUCCESS")

	// The failed attempts' stderr is kept in the output's _logs, as
	// Hadoop keeps task logs, and the error names the last one.
	var te *mapreduce.TaskError
	require.ErrorAs(t, err, &te)
	require.Equal(t, filepath.Join(cfg.Output, "_logs", te.Task+"-attempt-2.log"), te.Log)
	require.Contains(t, err.Error(), te.Log)
	for attempt := 1; attempt <= 2; attempt++ {
		log, rerr := os.ReadFile(filepath.Join(cfg.Output, "_logs", fmt.Sprintf("%s-attempt-%d.log", te.Task, attempt)))
		require.NoError(t, rerr)
		require.Contains(t, string(log), "cannot go on")
	}
}

func TestHugeLineFailsTheTask(t *testing.T) {
	in, _ := pairs(t, 1, 10)
	cfg := config(t, in)
	cfg.MaxAttempts = 1
	_, err := Run(context.Background(), Commands{MaxLine: 100000,
		Mapper: "cat >/dev/null; head -c 200000 /dev/zero | tr '\\0' x; echo"}, cfg)
	// The error crossed from the worker as text.
	require.ErrorContains(t, err, ErrLineTooLong.Error())
	require.Contains(t, err.Error(), "map-00000")
	require.Contains(t, err.Error(), "more than 100000 bytes")
}

func TestReducerFailsTheJobWithItsStderr(t *testing.T) {
	in, _ := pairs(t, 2, 50)
	cfg := config(t, in)
	cfg.MaxAttempts = 1
	_, err := Run(context.Background(), Commands{Mapper: "cat", Reducer: "cat >/dev/null; echo 'reducer broke' >&2; exit 2"}, cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "reduce-0000")
	require.Contains(t, err.Error(), "reducer broke")
}

func TestReducerSeesSortedGroups(t *testing.T) {
	in, want := pairs(t, 3, 100)
	cfg := config(t, in)
	// The reducer checks its input is sorted by key and writes it.
	res, err := Run(context.Background(), Commands{Mapper: "cat",
		Reducer: `LC_ALL=C sort -c -t "$(printf '\t')" -k1,1 && echo 'reporter:counter:Check,sorted,1' >&2; exit 0`}, cfg)
	require.NoError(t, err)
	require.Equal(t, int64(2), res.Counters["Check.sorted"])
	// And the identity reducer passes every pair.
	res, err = Run(context.Background(), Commands{Mapper: "cat", Reducer: "cat"}, config(t, in))
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
}

func TestCountersFromStderr(t *testing.T) {
	in, want := pairs(t, 3, 100)
	cfg := config(t, in)
	res, err := Run(context.Background(), Commands{
		Mapper:  `awk '{ print "reporter:counter:Test,lines,1" > "/dev/stderr"; print }'`,
		Reducer: `echo 'reporter:status:reducing' >&2; awk '{ print "reporter:counter:Test,reduced,2" > "/dev/stderr"; print }'`,
	}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
	require.Equal(t, int64(len(want)), res.Counters["Test.lines"])
	require.Equal(t, int64(2*len(want)), res.Counters["Test.reduced"])
}

// A hung mapper makes no progress: the task timeout kills its worker, and
// the program with it; the next attempt succeeds.
func TestHungMapperTimesOut(t *testing.T) {
	pids := t.TempDir()
	in, want := pairs(t, 3, 100)
	cfg := config(t, in)
	cfg.TaskTimeout = 5 * time.Second
	res, err := Run(context.Background(), Commands{Mapper: onFirstAttempt(
		fmt.Sprintf(`echo $$ > %s/pid.tmp && mv %s/pid.tmp %s/pid; exec sleep 1000`, pids, pids, pids))}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
	errs := attempts(res, "map-00001")
	require.GreaterOrEqual(t, len(errs), 2)
	require.Contains(t, errs[0], "timed out")
	requireGone(t, filepath.Join(pids, "pid"))
}

// A speculative backup of a straggling map task wins; the straggler's
// program is killed.
func TestSpeculativeBackupOfHungMapper(t *testing.T) {
	pids := t.TempDir()
	in, want := pairs(t, 3, 100)
	cfg := config(t, in)
	cfg.Speculative = true
	cfg.SpeculativeAfter = 100 * time.Millisecond
	res, err := Run(context.Background(), Commands{Mapper: onFirstAttempt(
		fmt.Sprintf(`echo $$ > %s/pid.tmp && mv %s/pid.tmp %s/pid; exec sleep 1000`, pids, pids, pids))}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
	var states []string
	for _, tr := range res.Tasks {
		if tr.ID == "map-00001" {
			for _, a := range tr.Attempts {
				states = append(states, a.State)
			}
		}
	}
	require.Contains(t, states, mapreduce.AttemptKilled)
	requireGone(t, filepath.Join(pids, "pid"))
}

// requireGone waits until the process whose pid is in file has ended.
func requireGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	for deadline := time.Now().Add(30 * time.Second); alive(pid); {
		require.True(t, time.Now().Before(deadline), "program %d outlived its attempt", pid)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOutputFormatsAndColumns(t *testing.T) {
	in, want := pairs(t, 2, 100)
	for _, format := range []string{"jsonl", "parquet", "arrow"} {
		t.Run(format, func(t *testing.T) {
			cfg := config(t, in)
			cfg.OutputFormat = format
			cfg.Params = map[string]string{ParamKeyColumn: "word", ParamValueColumn: "count"}
			res, err := Run(context.Background(), Commands{Mapper: "cat", Reducer: "cat"}, cfg)
			require.NoError(t, err)
			f, err := output.ParseFormat(format)
			require.NoError(t, err)
			got := readOutput(t, res, output.Options{Format: f, KeyName: "word", ValueName: "count", TextBytes: true})
			var lines []string
			for k, v := range got {
				lines = append(lines, k+"\t"+v)
			}
			slices.Sort(lines)
			require.Equal(t, want, lines)
		})
	}
}

// A record on which the mapper fails in every attempt is skipped with
// --skip-bad-records, named by file and offset; every other record's
// output is kept once.
func TestSkipBadRecordsStreaming(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.Mkdir(dir, 0o755))
	var b strings.Builder
	var want []string
	var badOffsets []int64
	for i := range 300 {
		line := fmt.Sprintf("good-%03d", i)
		if i == 40 || i == 250 {
			line = "BAD"
			badOffsets = append(badOffsets, int64(b.Len()))
		} else {
			want = append(want, line+"\t1")
		}
		b.WriteString(line + "\n")
	}
	file := filepath.Join(dir, "lines.txt")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	slices.Sort(want)
	cfg := config(t, dir)
	cfg.SkipBadRecords = 5
	res, err := Run(context.Background(), Commands{
		Mapper: `while read -r l; do if [ "$l" = BAD ]; then echo "cannot map $l" >&2; exit 1; fi; printf '%s\t1\n' "$l"; done`,
	}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
	var offsets []int64
	for _, s := range res.Skipped {
		require.Equal(t, file, s.File)
		require.Contains(t, s.Error, "cannot map BAD")
		offsets = append(offsets, s.Offset)
	}
	slices.Sort(offsets)
	require.Equal(t, badOffsets, offsets)
	require.Equal(t, int64(2), res.Counters[mapreduce.SkippedRecords])
}

// TestProgramLinesComeOutAsWritten: the output of a map-only job and of a
// reducer program is the program's lines as it wrote them, a line with no
// tab included (Hadoop's adds a tab to it).
func TestProgramLinesComeOutAsWritten(t *testing.T) {
	lines := []string{"a\t1", "no tab here", "empty value\t", "x\ty\tz", "\tempty key"}
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	rawLines := func(res *mapreduce.Result) []string {
		var got []string
		for _, part := range res.Parts {
			b, err := os.ReadFile(part)
			require.NoError(t, err)
			if len(b) > 0 {
				got = append(got, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
			}
		}
		slices.Sort(got)
		return got
	}

	mapOnly := config(t, in)
	mapOnly.MapOnly, mapOnly.Reducers = true, 0
	res, err := Run(context.Background(), Commands{Mapper: "cat"}, mapOnly)
	require.NoError(t, err)
	require.Equal(t, slices.Sorted(slices.Values(lines)), rawLines(res), "map-only")

	// The reducer reads key<TAB>value lines and writes each key alone.
	res, err = Run(context.Background(), Commands{Mapper: "cat", Reducer: "cut -f1"}, config(t, in))
	require.NoError(t, err)
	require.Equal(t, []string{"", "a", "empty value", "no tab here", "x"}, rawLines(res), "reducer program")
}

// registeredJob is a Streaming job with fixed commands, registered as the
// Go API's users do (Register at init); the workers, this test binary
// re-executed, register it too.
const registeredJob = "streaming-test-wordcount"

func init() {
	Register(registeredJob, "word count in awk", Commands{
		Mapper:  `awk '{ for (i = 1; i <= NF; i++) print $i "\t1" }'`,
		Reducer: `awk -F '\t' '{ n[$1] += $2 } END { for (w in n) print w "\t" n[w] }'`,
	})
}

// A registered Streaming job runs like any registered job
// (mapreduce.RunNamed), on worker processes.
func TestRegisteredJobRunsByName(t *testing.T) {
	in, byFile := words(t, 3, 200)
	want := wordCounts(byFile)
	res, err := mapreduce.RunNamed(context.Background(), registeredJob, config(t, in))
	require.NoError(t, err)
	require.Equal(t, want, readOutput(t, res, output.Options{}))
	require.Greater(t, res.MapTasks, 1)
}

// TestGenericJobChecksItsParams: the generic job run by name through the
// Go API, whose parameters no CLI checked, refuses a --max-line of 0 and a
// mapper that cannot be found before any task runs (it retried every task
// four times), writing nothing.
func TestGenericJobChecksItsParams(t *testing.T) {
	in, _ := words(t, 1, 10)
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{ParamMapper: "cat", ParamMaxLine: "0"}, `--max-line "0"`},
		{map[string]string{ParamMapper: "no-such-program-q9"}, "no-such-program-q9 cannot be run"},
		{map[string]string{ParamMapper: "cat", ParamInputKey: "name"}, `input key "name"`},
		{map[string]string{ParamMapper: "cat", ParamLinesContaining: "a\r\n"}, `--lines-containing "a\r\n"`},
	} {
		cfg := config(t, in)
		cfg.Params = tc.params
		_, err := mapreduce.RunNamed(context.Background(), JobName, cfg)
		require.ErrorIs(t, err, mapreduce.ErrConfig)
		require.ErrorContains(t, err, tc.want)
		require.NoDirExists(t, cfg.Output)
	}
}

// Every Streaming job, the generic one and a registered one, run by name
// or planned, cuts its input as `quern stream` does: 128 MiB splits grown
// to one map task per worker, unless the Config gives a split size. The
// input is a sparse file: planning reads no more than its size.
func TestStreamingJobsPlanTheirOwnSplits(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, nil, 0o644))
	require.NoError(t, os.Truncate(in, 300<<20))
	for _, name := range []string{JobName, registeredJob} {
		cfg := mapreduce.Config{Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"), Workers: 2,
			Params: map[string]string{ParamMapper: "cat"}}
		p, err := mapreduce.Plan(name, cfg)
		require.NoError(t, err, name)
		require.Equal(t, int64(150<<20), p.Config.SplitSize, name)
		require.Len(t, p.Tasks, 2, name)

		cfg.Workers = 4
		p, err = mapreduce.Plan(name, cfg)
		require.NoError(t, err, name)
		require.Equal(t, int64(DefaultSplitSize), p.Config.SplitSize, name)

		cfg.SplitSize = 64 << 20
		p, err = mapreduce.Plan(name, cfg)
		require.NoError(t, err, name)
		require.Equal(t, int64(64<<20), p.Config.SplitSize, name)
	}
}

// A map task's programs see, in Hadoop's names, the file their task reads
// and its byte range; a file larger than a split is read by several tasks,
// whose ranges cover it.
func TestMapperSeesItsInputFileAndRange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.Mkdir(dir, 0o755))
	file := filepath.Join(dir, "big.txt")
	// 32,000 bytes in 8 KiB splits (config)
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat("a line of input\n", 2000)), 0o644))
	cfg := config(t, dir)
	cfg.MapOnly, cfg.Reducers = true, 0
	res, err := Run(context.Background(), Commands{
		Mapper: `cat >/dev/null; printf '%s\t%s %s %s\n' "$mapreduce_map_input_file" "$mapreduce_map_input_start" "$mapreduce_map_input_length" "$map_input_file"`,
	}, cfg)
	require.NoError(t, err)
	lines := outputLines(t, res)
	require.Len(t, lines, res.MapTasks)
	require.Greater(t, res.MapTasks, 2)
	var ranges [][2]int64 // start, length
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, "\t")
		require.Equal(t, file, name)
		f := strings.Fields(rest)
		require.Len(t, f, 3, l)
		require.Equal(t, file, f[2], "Hadoop 1's map_input_file")
		start, err := strconv.ParseInt(f[0], 10, 64)
		require.NoError(t, err)
		length, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		ranges = append(ranges, [2]int64{start, length})
	}
	slices.SortFunc(ranges, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var covered int64
	for _, r := range ranges {
		require.Equal(t, covered, r[0], "ranges without gaps or overlaps: %v", ranges)
		covered += r[1]
	}
	require.Equal(t, int64(32000), covered)
}

// Every line of a CSV file reaches the mapper, its first too, as Hadoop
// Streaming passes every line of its input (Job.LineInput): a .csv name
// alone does not make the first line a header, which a file without one
// would lose. With --input-format csv the header is not a record. Rows of
// a Parquet file reach it as JSON objects (docs/formats.md).
func TestInputFormatsReachTheMapperAsLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.csv"), []byte("word,count\nquern,3\n\"mill, stone\",4\n"), 0o644))
	w, err := output.Create[string, string](filepath.Join(dir, "b.parquet"), output.Options{Format: output.Parquet, KeyName: "word", ValueName: "count"})
	require.NoError(t, err)
	require.NoError(t, w.Write("grain", "5"))
	require.NoError(t, w.Close())
	cfg := config(t, dir)
	cfg.MapOnly, cfg.Reducers = true, 0
	res, err := Run(context.Background(), Commands{Mapper: "cat"}, cfg)
	require.NoError(t, err)
	require.Equal(t, []string{`"mill, stone",4`, `quern,3`, `word,count`, `{"word":"grain","count":"5"}`}, outputLines(t, res))

	cfg = config(t, filepath.Join(dir, "a.csv"))
	cfg.MapOnly, cfg.Reducers, cfg.InputFormat = true, 0, "csv"
	res, err = Run(context.Background(), Commands{Mapper: "cat"}, cfg)
	require.NoError(t, err)
	require.Equal(t, []string{`"mill, stone",4`, `quern,3`}, outputLines(t, res))
}

// TestCommandNamesLocalFiles runs the command line a user tried in a shell
// pipeline in their folder (`cat in | ./count.sh lib/stop.txt | sort |
// awk -f sum.awk`) as a job from that folder, without --file: the files
// the commands name by relative paths are linked into each task's working
// folder, so the job gives the pipeline's answer, where the commands used
// to fail "./count.sh: not found" in every attempt.
func TestCommandNamesLocalFiles(t *testing.T) {
	in, byFile := words(t, 3, 200)
	home := t.TempDir()
	write := func(name, text string, mode os.FileMode) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(home, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(home, name), []byte(text), mode))
	}
	write("count.sh", "#!/bin/sh\n# Each word but the stop words of $1, counted once.\n"+
		"tr -s ' \\t' '\\n\\n' | grep -v -x -F -f \"$1\" | grep -v '^$' | sed 's/$/\t1/'\n", 0o755)
	write("lib/stop.txt", "the\nto-be\n", 0o644)
	write("sum.awk", "{ n[$1] += $2 } END { for (w in n) print w \"\\t\" n[w] }\n", 0o644)
	want := map[string]string{}
	counts := map[string]int{}
	for _, ws := range byFile {
		for _, w := range ws {
			if w != "the" && w != "to-be" {
				counts[w]++
			}
		}
	}
	for w, n := range counts {
		want[w] = strconv.Itoa(n)
	}
	t.Chdir(home)
	res, err := Run(context.Background(), Commands{Mapper: "./count.sh lib/stop.txt", Reducer: "awk -f sum.awk"}, config(t, in))
	require.NoError(t, err)
	require.Equal(t, want, readOutput(t, res, output.Options{}))
	require.FileExists(t, filepath.Join(home, "count.sh"), "the user's files stay")
}

// TestCommandFiles checks which words of a command are taken as files to
// link: only existing regular files named by relative paths below the
// folder, in commands without shell syntax.
func TestCommandFiles(t *testing.T) {
	home := t.TempDir()
	for _, f := range []string{"m.py", "lib/x.txt", "out.txt"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(home, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(home, f), nil, 0o644))
	}
	t.Chdir(home)
	for cmd, want := range map[string][]string{
		"python3 m.py":              {"m.py"},
		"./m.py --stop lib/x.txt":   {"m.py", filepath.Join("lib", "x.txt")},
		"python3 m.py > out.txt":    nil, // shell syntax: out.txt would be written through the link
		"python3 " + home + "/m.py": nil, // absolute: found as it is
		"python3 missing.py lib":    nil, // no such file; a folder
		"grep -f ../m.py":           nil, // outside the folder
	} {
		require.Equal(t, want, commandFiles(cmd), "%q", cmd)
	}
}

// A file a command names that cannot be put in the task's folder fails the
// task, naming it, rather than leaving the program to miss it: here a
// shipped file "lib" takes the place of the folder "lib/words.txt" needs.
func TestCommandFileThatCannotBeShippedFails(t *testing.T) {
	home := t.TempDir()
	for _, f := range []string{"lib/words.txt", "other/lib"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(home, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(home, f), nil, 0o644))
	}
	t.Chdir(home)
	_, err := workFolder(Task{ID: "map-00000", Dir: t.TempDir()}, Commands{Mapper: "grep -f lib/words.txt", Files: []string{"other/lib"}})
	require.ErrorContains(t, err, "lib/words.txt, named by a command")
}

// TestMapperClosingStdinEarlyIsRetried runs a job whose mapper, on its
// first attempt of one task, reads a little of its input and exits 0
// (`head -n 1`) over a split larger than what the pipe or socket to it
// holds: the attempt fails, naming the early close, and its retry gives
// every line, so a mapper that stops reading never loses records silently.
func TestMapperClosingStdinEarlyIsRetried(t *testing.T) {
	in, want := pairs(t, 2, 60000) // about 1 MB a file, one task each
	cfg := config(t, in)
	cfg.SplitSize = 4 << 20
	res, err := Run(context.Background(), Commands{Mapper: onFirstAttempt("exec head -n 1")}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, outputLines(t, res))
	errs := attempts(res, "map-00001")
	require.Len(t, errs, 2)
	require.Contains(t, errs[0], "stopped reading its input before the end")
	require.Empty(t, errs[1])
}
