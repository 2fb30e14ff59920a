package streaming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
)

// Commands are the programs of a Streaming job and what they need.
type Commands struct {
	// Mapper is the command that maps: it reads input records as lines on
	// stdin and writes "key<TAB>value" lines on stdout. Required.
	Mapper string
	// Combiner, if set, runs over each spill of a map task's output, sorted
	// by key, as a reducer would, and its output is what is shuffled. It
	// must write the same kind of pairs its input has.
	Combiner string
	// Reducer reads a partition's pairs as "key<TAB>value" lines sorted by
	// key, all values of a key together, and writes output lines ("key<TAB>
	// value", or a line without a tab: all key). Empty for a map-only job.
	Reducer string
	// Files are shipped into every task's working folder (by link, or by
	// copy where links are refused), under their base names.
	Files []string
	// MaxLine bounds one line a program writes; 0 means DefaultMaxLine.
	MaxLine int
	// CombineBuffer is the map output a task holds before it sorts it and
	// runs the combiner over it; 0 means DefaultCombineBuffer.
	CombineBuffer int
	// InputKey puts a key before each input line the mapper reads, with a
	// tab: InputKeyFile the record's file, InputKeyOffset its offset (as
	// Hadoop does with stream.map.input.ignoreKey=false). "" sends the
	// line alone.
	InputKey string
	// LinesContaining, if set, hands the mapper only the input lines that
	// hold these bytes (mapreduce.Job.LineFilter): the others are read
	// and counted (filtered_input_records) but never piped to it, which
	// saves a program that would drop them its reading and testing of
	// each. It must not hold a line's end ('\n', '\r').
	LinesContaining string
}

// Values of Commands.InputKey.
const (
	InputKeyNone   = ""
	InputKeyFile   = "file"
	InputKeyOffset = "offset"
)

func (c Commands) checkInputKey() error { return CheckInputKey(c.InputKey) }

// CheckLinesContaining returns an error wrapping mapreduce.ErrConfig if sub
// holds a line's end, which no line holds (Commands.LinesContaining).
func CheckLinesContaining(sub string) error {
	if sub != "" && !input.ValidFilter([]byte(sub)) {
		return fmt.Errorf("%w: --%s %q: no line holds \\n or \\r, so none would reach the mapper", mapreduce.ErrConfig, ParamLinesContaining, sub)
	}
	return nil
}

// CheckInputKey returns an error wrapping mapreduce.ErrConfig unless key is
// a value of Commands.InputKey.
func CheckInputKey(key string) error {
	switch key {
	case InputKeyNone, InputKeyFile, InputKeyOffset:
		return nil
	}
	return fmt.Errorf("%w: input key %q: want %q or %q", mapreduce.ErrConfig, key, InputKeyFile, InputKeyOffset)
}

// DefaultCombineBuffer is how much map output, in bytes of lines, a task
// collects before it sorts it and pipes it through the combiner.
const DefaultCombineBuffer = 32 << 20

// Task says which task a program runs for. Its programs see it in their
// environment, with the names Hadoop Streaming gives (see Env).
type Task struct {
	Job      string
	ID       string // "map-00003", "reduce-00001"
	Attempt  int
	IsMap    bool
	Reducers int
	// Partition is a reduce task's partition (or a map task's number).
	Partition int
	// Dir is where the task may make its working folder; "" for the
	// system's temp directory.
	Dir string
}

// Split is the part of an input file a map program is reading.
type Split struct {
	File          string
	Start, Length int64
}

// Env returns the environment of a task's program, in Hadoop Streaming's
// names (its configuration keys with '.' made '_'), and the names of
// Hadoop 1 for the input file, which old scripts still read:
//
//	mapreduce_job_name          the job's name
//	mapreduce_task_id           the task: map-00003, reduce-00001
//	mapreduce_task_attempt_id   the attempt: map-00003_1 (task _ attempt number)
//	mapreduce_task_ismap        true in a map task, false in a reduce task
//	mapreduce_task_partition    the task's number (a reduce task's partition)
//	mapreduce_job_reduces       the number of reduce tasks (0: map-only)
//	mapreduce_map_input_file    map tasks: the input file being read (also map_input_file)
//	mapreduce_map_input_start   map tasks: where its byte range starts (also map_input_start)
//	mapreduce_map_input_length  map tasks: the range's length (also map_input_length)
//
// A map task that reads several files (small files packed into one task)
// has no input file in its environment, and a split whose Length is
// negative (not a byte range) no start and length.
func (t Task) Env(split *Split) []string {
	env := []string{
		"mapreduce_job_name=" + t.Job,
		"mapreduce_task_id=" + t.ID,
		"mapreduce_task_attempt_id=" + t.ID + "_" + strconv.Itoa(t.Attempt),
		"mapreduce_task_ismap=" + strconv.FormatBool(t.IsMap),
		"mapreduce_task_partition=" + strconv.Itoa(t.Partition),
		"mapreduce_job_reduces=" + strconv.Itoa(t.Reducers),
	}
	if split != nil {
		env = append(env, "mapreduce_map_input_file="+split.File, "map_input_file="+split.File)
	}
	if split != nil && split.Length >= 0 {
		start, length := strconv.FormatInt(split.Start, 10), strconv.FormatInt(split.Length, 10)
		env = append(env,
			"mapreduce_map_input_start="+start, "map_input_start="+start,
			"mapreduce_map_input_length="+length, "map_input_length="+length,
		)
	}
	return env
}

// Reporter receives what programs report on stderr: counter increments and
// the task's status. It is called on the task's goroutine only.
type Reporter interface {
	Count(name string, delta int64)
	SetStatus(text string)
}

// workFolder makes a task's working folder, ships the job's files into it,
// and links there the files its commands name by relative paths.
func workFolder(task Task, cmds Commands) (string, error) {
	dir, err := os.MkdirTemp(task.Dir, "stream-"+task.ID+"-")
	if err != nil {
		return "", fmt.Errorf("streaming: task %s: working folder: %w", task.ID, err)
	}
	for _, f := range cmds.Files {
		if err := ship(f, filepath.Join(dir, filepath.Base(f))); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("streaming: task %s: --file %s: %w", task.ID, f, err)
		}
	}
	for _, name := range commandFiles(cmds.Mapper, cmds.Combiner, cmds.Reducer) {
		dst := filepath.Join(dir, name)
		if _, err := os.Lstat(dst); err == nil {
			continue // shipped by --file, which has the last word
		}
		err := os.MkdirAll(filepath.Dir(dst), 0o755)
		if err == nil {
			err = ship(name, dst)
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("streaming: task %s: %s, named by a command: %w", task.ID, name, err)
		}
	}
	return dir, nil
}

// commandFiles returns the words of simple commands (simpleCommand: no
// quotes, no redirections, no variables, no shell syntax at all) that name existing
// regular files by relative paths from the folder the job runs in, below
// it: "./mapper.py", "mapper.py" in "python3 mapper.py", "lib/words.txt".
// A user tries a script as `cat in | ./mapper.py | sort`, in that folder;
// linking these names into the task's working folder makes the same
// command line work as a --mapper there, as --file would. A command with
// shell syntax is left alone: a word after ">" names a file to write, and
// the task must not write through a link into the user's folder.
func commandFiles(cmds ...string) []string {
	var names []string
	for _, cmd := range cmds {
		for _, w := range simpleCommand(cmd) {
			p := filepath.Clean(w)
			if filepath.IsAbs(p) || filepath.VolumeName(p) != "" || p == ".." || strings.HasPrefix(p, ".."+string(filepath.Separator)) ||
				strings.HasPrefix(w, "-") || slices.Contains(names, p) {
				continue
			}
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				names = append(names, p)
			}
		}
	}
	return names
}

// ship links file to dst, or copies it where links are refused (Windows
// without the right to make them, another file system) or the link made
// does not lead to the file (Wine reports links made and makes none).
func ship(file, dst string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory; ship files one by one")
	}
	if os.Symlink(abs, dst) == nil {
		if _, err := os.Stat(dst); err == nil {
			return nil
		}
		os.Remove(dst)
	}
	src, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CounterProgramCPU is the counter of the processor time, in milliseconds,
// that a task's programs used: a job's total CPU less this is Quern's own.
const CounterProgramCPU = "streaming_program_cpu_ms"

// reportEvery is how many records a task passes between looks at its
// programs' reports.
const reportEvery = 4096

// MapTask runs a map task's records through one mapper program, as Hadoop
// starts one per map task: a task that packs many small files feeds the
// records of all of them to one program, so a folder of thousands of tiny
// files starts a few programs, not thousands. With a combiner, one combiner
// runs per spill of the output.
type MapTask struct {
	cmds  Commands
	task  Task
	rep   Reporter
	dir   string
	split *Split // what the programs' environment names (see Env)

	proc  *Proc
	out   func(key, value []byte) // the mapper's pairs: emit, or the combine buffer
	n     int
	file  string // the file of the last record, and
	fileK []byte // its name as bytes, for InputKeyFile
	numK  []byte // scratch for InputKeyOffset

	// With a combiner, the mapper's pairs collect in comb until it holds
	// CombineBuffer bytes; emit is the task's emit, for the combiner's
	// output.
	comb *combineBuffer

	// In skipping mode (SkipBadRecords), records collect in batch and
	// each batch is mapped by a program of its own.
	skip    func(file string, offset int64, err error) error
	batch   recordBatch
	batches int // batches mapped
}

// NewMapTask prepares a map task over the given splits (in the order their
// records will come), which its programs' environment describes.
func NewMapTask(cmds Commands, task Task, input []Split, rep Reporter) (*MapTask, error) {
	if err := cmds.checkInputKey(); err != nil {
		return nil, err
	}
	dir, err := workFolder(task, cmds)
	if err != nil {
		return nil, err
	}
	m := &MapTask{cmds: cmds, task: task, rep: rep, dir: dir, split: oneFile(input)}
	if cmds.Combiner != "" {
		m.comb = &combineBuffer{limit: cmds.CombineBuffer}
		if m.comb.limit <= 0 {
			m.comb.limit = DefaultCombineBuffer
		}
	}
	return m, nil
}

// oneFile is the split the environment names for a task's input: the one
// file it reads (from the start of its first range to the end of its
// last), or nil when it reads several files or none. Hadoop names the
// first file of a combined split; Quern names none rather than one that is
// wrong for most records: a program that needs each record's file asks for
// it with InputKeyFile.
func oneFile(input []Split) *Split {
	if len(input) == 0 {
		return nil
	}
	first, last := input[0], input[len(input)-1]
	for _, s := range input[1:] {
		if s.File != first.File {
			return nil
		}
	}
	s := Split{File: first.File, Start: first.Start, Length: -1}
	if first.Length >= 0 && last.Length >= 0 {
		s.Length = last.Start + last.Length - first.Start
	}
	return &s
}

// Map sends one record, read from file at offset, to the mapper. Pairs go
// to emit (valid during the call), directly or through the combiner.
func (m *MapTask) Map(ctx context.Context, file string, offset int64, line []byte, emit func(key, value []byte)) error {
	if m.out == nil {
		m.out = m.output(ctx, emit)
	}
	if m.skip != nil {
		if m.batch.full() {
			if err := m.mapBatch(ctx, emit); err != nil {
				return err
			}
		}
		m.batch.add(file, offset, line)
		return nil
	}
	if m.proc == nil {
		if err := m.startMapper(); err != nil {
			return err
		}
	}
	if err := m.send(ctx, m.proc, file, offset, line, m.out); err != nil {
		return err
	}
	if m.comb != nil && m.comb.err != nil {
		return m.comb.err
	}
	if m.n++; m.n%reportEvery == 0 {
		m.report(m.proc)
	}
	return nil
}

// send writes one record to a mapper: the line, or with Commands.InputKey
// its file or offset, a tab, and the line.
func (m *MapTask) send(ctx context.Context, p *Proc, file string, offset int64, line []byte, emit func(key, value []byte)) error {
	switch m.cmds.InputKey {
	case InputKeyFile:
		if file != m.file || m.fileK == nil {
			m.file, m.fileK = file, []byte(file)
		}
		return p.WritePair(ctx, m.fileK, line, emit)
	case InputKeyOffset:
		m.numK = strconv.AppendInt(m.numK[:0], offset, 10)
		return p.WritePair(ctx, m.numK, line, emit)
	}
	return p.Write(ctx, line, emit)
}

// output is where the mapper's pairs go: to emit, or into the combine
// buffer.
func (m *MapTask) output(ctx context.Context, emit func(key, value []byte)) func(key, value []byte) {
	if m.comb == nil {
		return emit
	}
	return func(k, v []byte) {
		if m.comb.add(k, v) {
			m.combine(ctx, emit)
		}
	}
}

// startMapper starts the task's mapper.
func (m *MapTask) startMapper() error {
	p, err := Start(Options{
		Role: "mapper", Command: m.cmds.Mapper, Dir: m.dir,
		Env: m.task.Env(m.split), MaxLine: m.cmds.MaxLine,
	})
	if err != nil {
		return err
	}
	m.proc = p
	return nil
}

func (m *MapTask) endMapper(ctx context.Context) error {
	p := m.proc
	m.proc = nil
	err := p.Close(ctx, m.out)
	m.report(p)
	if err != nil {
		return err
	}
	if m.comb != nil {
		return m.comb.err
	}
	return nil
}

// Close ends the mapper, emits the rest of its output (and runs the
// combiner over what is held), and removes the working folder. A task
// without records still runs its mapper once, on no input, as Hadoop does.
func (m *MapTask) Close(ctx context.Context, emit func(key, value []byte)) error {
	defer os.RemoveAll(m.dir)
	if m.out == nil {
		m.out = m.output(ctx, emit)
	}
	if m.skip != nil && len(m.batch.recs) > 0 {
		if err := m.mapBatch(ctx, emit); err != nil {
			return err
		}
	}
	if m.proc == nil && m.n == 0 && m.batches == 0 {
		if err := m.startMapper(); err != nil {
			return err
		}
	}
	if m.proc != nil {
		if err := m.endMapper(ctx); err != nil {
			return err
		}
	}
	if m.comb != nil && m.comb.n > 0 {
		m.combine(ctx, emit)
		return m.comb.err
	}
	return nil
}

// Abort kills the programs of a failed task and removes its folder.
func (m *MapTask) Abort() {
	if m.proc != nil {
		m.proc.Abort()
		m.proc = nil
	}
	os.RemoveAll(m.dir)
}

// SkipBadRecords puts the task in skipping mode, for a retry attempt of a
// task whose mapper failed: the mapper fails on some record, but a program
// reads its input through a pipe, so which record is not known. The task
// therefore maps its records in batches, each by a program of its own, and
// keeps a batch's output only once its program has exited well. When one
// fails, the batch is mapped again in halves, and so on down to the record
// on which the mapper fails, which is skipped: skip says so, and fails the
// task (returning an error) when the skip limit is reached. A bad record
// costs about 2*log2(skipBatchRecords) more program runs; the first attempt
// of a task, which runs one program for all its records, pays nothing.
func (m *MapTask) SkipBadRecords(skip func(file string, offset int64, err error) error) {
	m.skip = skip
}

// A skipping task's batches hold up to skipBatchRecords records or
// skipBatchBytes bytes of them.
const (
	skipBatchRecords = 4096
	skipBatchBytes   = 4 << 20
)

// recordBatch holds records for a skipping task: their lines in one arena.
type recordBatch struct {
	arena []byte
	recs  []heldRecord
}

type heldRecord struct {
	file      string
	offset    int64
	at, bytes int
}

func (b *recordBatch) add(file string, offset int64, line []byte) {
	b.recs = append(b.recs, heldRecord{file, offset, len(b.arena), len(line)})
	b.arena = append(b.arena, line...)
}

func (b *recordBatch) full() bool {
	return len(b.recs) >= skipBatchRecords || len(b.arena) >= skipBatchBytes
}

// mapBatch maps the held batch, skipping the records it fails on.
func (m *MapTask) mapBatch(ctx context.Context, emit func(key, value []byte)) error {
	err := m.mapRecords(ctx, m.batch.recs, emit)
	m.batches++
	m.batch.arena, m.batch.recs = m.batch.arena[:0], m.batch.recs[:0]
	return err
}

func (m *MapTask) mapRecords(ctx context.Context, recs []heldRecord, emit func(key, value []byte)) error {
	held, reports, err := m.tryRecords(ctx, recs)
	if err == nil {
		for k, v := range held.all() {
			m.out(k, v)
		}
		report(m.rep, reports.counters, reports.status)
		if m.comb != nil {
			return m.comb.err
		}
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	if len(recs) == 1 {
		return m.skip(recs[0].file, recs[0].offset, err)
	}
	half := len(recs) / 2
	if err := m.mapRecords(ctx, recs[:half], emit); err != nil {
		return err
	}
	return m.mapRecords(ctx, recs[half:], emit)
}

type procReports struct {
	counters map[string]int64
	status   string
}

// tryRecords maps records by a program of their own and returns its
// output, held back, and what it reported.
func (m *MapTask) tryRecords(ctx context.Context, recs []heldRecord) (*combineBuffer, procReports, error) {
	p, err := Start(Options{
		Role: "mapper", Command: m.cmds.Mapper, Dir: m.dir,
		Env: m.task.Env(m.split), MaxLine: m.cmds.MaxLine,
	})
	if err != nil {
		return nil, procReports{}, err
	}
	held := &combineBuffer{}
	keep := func(k, v []byte) { held.add(k, v) }
	for _, r := range recs {
		if err := m.send(ctx, p, r.file, r.offset, m.batch.arena[r.at:r.at+r.bytes], keep); err != nil {
			return nil, procReports{}, err
		}
	}
	if err := p.Close(ctx, keep); err != nil {
		return nil, procReports{}, err
	}
	var rep procReports
	rep.counters, rep.status, _ = p.Reports()
	if cpu := p.CPU(); cpu > 0 {
		if rep.counters == nil {
			rep.counters = map[string]int64{}
		}
		rep.counters[CounterProgramCPU] += cpu.Milliseconds()
	}
	return held, rep, nil
}

// combine sorts the held pairs by key and pipes them through the combiner,
// whose output goes to emit.
func (m *MapTask) combine(ctx context.Context, emit func(key, value []byte)) {
	b := m.comb
	if b.err != nil {
		return
	}
	p, err := Start(Options{
		Role: "combiner", Command: m.cmds.Combiner, Dir: m.dir,
		Env: m.task.Env(m.split), MaxLine: m.cmds.MaxLine,
	})
	if err != nil {
		b.err = err
		return
	}
	var out int64
	counted := func(k, v []byte) {
		out++
		emit(k, v)
	}
	for k, v := range b.sorted() {
		if err := p.WritePair(ctx, k, v, counted); err != nil {
			b.err = err
			return
		}
	}
	b.err = p.Close(ctx, counted)
	m.report(p)
	m.rep.Count(mapreduce.CombineInputRecords, int64(b.n))
	m.rep.Count(mapreduce.CombineOutputRecords, out)
	b.reset()
}

func (m *MapTask) report(p *Proc) {
	if counters, status, ok := p.Reports(); ok {
		report(m.rep, counters, status)
	}
	if cpu := p.CPU(); cpu > 0 {
		m.rep.Count(CounterProgramCPU, cpu.Milliseconds())
	}
}

func report(rep Reporter, counters map[string]int64, status string) {
	for _, name := range slices.Sorted(maps.Keys(counters)) {
		rep.Count(name, counters[name])
	}
	if status != "" {
		rep.SetStatus(status)
	}
}

// combineBuffer holds a map task's pairs for the combiner: their bytes in
// one arena, and where each pair's key and value are.
type combineBuffer struct {
	limit int
	arena []byte
	pairs []pairAt
	n     int
	err   error
}

type pairAt struct{ at, klen, vlen int }

// add keeps a pair and reports whether the buffer is full.
func (b *combineBuffer) add(k, v []byte) bool {
	at := len(b.arena)
	b.arena = append(append(b.arena, k...), v...)
	b.pairs = append(b.pairs, pairAt{at, len(k), len(v)})
	b.n++
	return len(b.arena)+len(b.pairs)*24 >= b.limit
}

// sorted yields the pairs in key order, pairs of one key in the order they
// were added.
func (b *combineBuffer) sorted() iter.Seq2[[]byte, []byte] {
	key := func(p pairAt) []byte { return b.arena[p.at : p.at+p.klen] }
	slices.SortStableFunc(b.pairs, func(x, y pairAt) int { return bytes.Compare(key(x), key(y)) })
	return func(yield func([]byte, []byte) bool) {
		for _, p := range b.pairs {
			if !yield(key(p), b.arena[p.at+p.klen:p.at+p.klen+p.vlen]) {
				return
			}
		}
	}
}

// all yields the pairs in the order they were added.
func (b *combineBuffer) all() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, p := range b.pairs {
			if !yield(b.arena[p.at:p.at+p.klen], b.arena[p.at+p.klen:p.at+p.klen+p.vlen]) {
				return
			}
		}
	}
}

func (b *combineBuffer) reset() {
	b.arena, b.pairs, b.n = b.arena[:0], b.pairs[:0], 0
}

// ReduceTask pipes one partition's groups through the reducer.
type ReduceTask struct {
	cmds Commands
	task Task
	rep  Reporter
	dir  string
	proc *Proc
	n    int
}

// NewReduceTask prepares a reduce task and starts its reducer.
func NewReduceTask(cmds Commands, task Task, rep Reporter) (*ReduceTask, error) {
	dir, err := workFolder(task, cmds)
	if err != nil {
		return nil, err
	}
	p, err := Start(Options{
		Role: "reducer", Command: cmds.Reducer, Dir: dir,
		Env: task.Env(nil), MaxLine: cmds.MaxLine,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &ReduceTask{cmds: cmds, task: task, rep: rep, dir: dir, proc: p}, nil
}

// Reduce sends a key's values to the reducer as "key<TAB>value" lines; the
// reducer's output lines go to emit (valid during the call).
func (r *ReduceTask) Reduce(ctx context.Context, key []byte, values iter.Seq[[]byte], emit func(key, value []byte)) error {
	for v := range values {
		if err := r.proc.WritePair(ctx, key, v, emit); err != nil {
			return err
		}
		if r.n++; r.n%reportEvery == 0 {
			r.report()
		}
	}
	return nil
}

// Close ends the reducer's input and emits the rest of its output.
func (r *ReduceTask) Close(ctx context.Context, emit func(key, value []byte)) error {
	defer os.RemoveAll(r.dir)
	err := r.proc.Close(ctx, emit)
	r.report()
	if cpu := r.proc.CPU(); cpu > 0 {
		r.rep.Count(CounterProgramCPU, cpu.Milliseconds())
	}
	return err
}

// Abort kills the reducer of a failed task and removes its folder.
func (r *ReduceTask) Abort() {
	r.proc.Abort()
	os.RemoveAll(r.dir)
}

func (r *ReduceTask) report() {
	if counters, status, ok := r.proc.Reports(); ok {
		report(r.rep, counters, status)
	}
}
