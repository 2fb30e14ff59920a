package streaming

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// A Streaming job is a mapreduce.ByteJob whose map and reduce are programs:
// the task layer hands it records and groups as bytes, it pipes them through
// the programs (proc.go, task.go) and emits what they write. Keys and values
// are text, compared as bytes, as Hadoop compares Text.

// JobName is the name under which the generic Streaming job is registered:
// its commands are its parameters (`quern stream`, `quern run streaming`,
// and Run).
const JobName = "streaming"

// Parameter names of the generic Streaming job.
const (
	ParamMapper      = "mapper"
	ParamCombiner    = "combiner"
	ParamReducer     = "reducer"
	ParamFiles       = "file"
	ParamMaxLine     = "max-line"
	ParamKeyColumn   = "key-column"
	ParamValueColumn = "value-column"
	ParamInputKey    = "input-key"
	// ParamLinesContaining is Commands.LinesContaining.
	ParamLinesContaining = "lines-containing"
)

var params = []mapreduce.Param{
	{Name: ParamMapper, Usage: "command that maps: reads records as lines on stdin, writes key<TAB>value lines on stdout", Required: true},
	{Name: ParamCombiner, Usage: "command run over each spill of map output, sorted by key, like a reducer (optional)"},
	{Name: ParamReducer, Usage: "command that reduces: reads key<TAB>value lines sorted by key, writes output lines (none: map output is the output)"},
	{Name: ParamFiles, Usage: "files to ship into each task's working folder, comma-separated"},
	{Name: ParamInputKey, Usage: "put each input record's file or offset before its line, with a tab: file, offset (default: the line alone)"},
	{Name: ParamLinesContaining, Usage: "hand the mapper only the input lines that hold these bytes (the others are read and counted, never piped to it)"},
	{Name: ParamMaxLine, Usage: "longest line in bytes a program may write", Default: strconv.Itoa(DefaultMaxLine)},
	{Name: ParamKeyColumn, Usage: "name of the key column in jsonl, parquet and arrow output", Default: "key"},
	{Name: ParamValueColumn, Usage: "name of the value column in jsonl, parquet and arrow output", Default: "value"},
}

func init() {
	mapreduce.RegisterByteJob(&job{name: JobName,
		description: "Hadoop Streaming: any program as mapper, combiner and reducer (lines on stdin, key<TAB>value lines on stdout)"})
}

// Register registers a Streaming job with fixed commands under name, so
// that it runs like any registered job (mapreduce.RunNamed, `quern run
// NAME`). Call it at package init, as mapreduce.Register. Relative paths in
// cmds.Files are taken from the directory the driver runs in.
func Register(name, description string, cmds Commands) {
	if cmds.Mapper == "" {
		panic(fmt.Sprintf("streaming: job %q has no mapper", name))
	}
	c := cmds
	mapreduce.RegisterByteJob(&job{name: name, description: description, fixed: &c})
}

// DefaultSplitSize is the split size of a Streaming job (`quern stream`,
// Run) when none is given: Hadoop's 128 MiB block, four times a Go job's
// mapreduce.DefaultSplitSize, since every map task starts the mapper
// program anew and an interpreter's start-up (Python's, through a pyenv
// shim, measured 0.74 CPU-s) is paid per task.
const DefaultSplitSize = 128 << 20

// MaxSplitSize is how far a Streaming job's default split size grows so
// that its input makes one map task per worker (mapreduce.Config's
// MaxSplitSize): each map task starts the mapper anew, and a mapper that
// totals in memory (the word count examples) writes its whole table once
// per task, which the reducers then read again: 1 GiB of text in 128 MiB
// splits gave the reducers 8 tables of ~250,000 lines, in two splits 2 of
// ~310,000, against the shell pipeline's one of 334,000. A split is at
// most 1 GiB, so a failed attempt redoes a bounded part of the input and
// a mapper's table covers a bounded part of it.
const MaxSplitSize = 1 << 30

// Run runs a Streaming job with the given commands over cfg's inputs: the
// Go form of `quern stream`. A zero cfg.SplitSize is DefaultSplitSize,
// grown up to MaxSplitSize (unless cfg.MaxSplitSize is set) to make one map
// task per worker, as for every Streaming job (its JobInfo says so).
func Run(ctx context.Context, cmds Commands, cfg mapreduce.Config) (*mapreduce.Result, error) {
	p, err := cmds.Params()
	if err != nil {
		return nil, err
	}
	for k, v := range cfg.Params {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	cfg.Params = p
	return mapreduce.RunNamed(ctx, JobName, cfg)
}

// Params returns the commands as parameters of the generic Streaming job.
func (c Commands) Params() (map[string]string, error) {
	if strings.TrimSpace(c.Mapper) == "" {
		return nil, fmt.Errorf("%w: a Streaming job needs a mapper command", mapreduce.ErrConfig)
	}
	for _, f := range c.Files {
		if strings.Contains(f, ",") {
			return nil, fmt.Errorf("%w: --file %q: a file name with a comma cannot be shipped", mapreduce.ErrConfig, f)
		}
	}
	if err := c.checkInputKey(); err != nil {
		return nil, err
	}
	if err := CheckPrograms(c); err != nil {
		return nil, err
	}
	if err := CheckLinesContaining(c.LinesContaining); err != nil {
		return nil, err
	}
	p := map[string]string{ParamMapper: c.Mapper, ParamCombiner: c.Combiner, ParamReducer: c.Reducer,
		ParamFiles: strings.Join(c.Files, ","), ParamInputKey: c.InputKey, ParamLinesContaining: c.LinesContaining}
	if c.MaxLine > 0 {
		p[ParamMaxLine] = strconv.Itoa(c.MaxLine)
	}
	return p, nil
}

// job is a registered Streaming job: the generic one takes its commands
// from its parameters, one made by Register has them fixed.
type job struct {
	name, description string
	fixed             *Commands
}

var (
	_ mapreduce.MapOnlyJob   = (*job)(nil)
	_ mapreduce.LineFiltered = (*job)(nil)
)

func (j *job) Info() mapreduce.JobInfo {
	info := mapreduce.JobInfo{
		Name: j.name, Description: j.description,
		KeyType: "text", ValueType: "text", OutKeyType: "text", OutValueType: "text",
		SplitSize: DefaultSplitSize, MaxSplitSize: MaxSplitSize,
		// Programs read lines, as Hadoop Streaming's: a CSV file's
		// first line reaches the mapper too.
		LineInput: true,
	}
	if j.fixed == nil {
		info.Params = params
		return info
	}
	info.HasCombiner = j.fixed.Combiner != ""
	for _, p := range params {
		if p.Name == ParamKeyColumn || p.Name == ParamValueColumn {
			info.Params = append(info.Params, p)
		}
	}
	return info
}

// CheckParams checks the generic job's parameters before it runs
// (mapreduce.Job.CheckParams): --max-line, --input-key, and that each
// program can be found. A job made by Register was checked then.
func (j *job) CheckParams(params map[string]string) error {
	if j.fixed != nil {
		return nil
	}
	c, err := j.commands(func(name string) string { return params[name] })
	if err != nil {
		return err
	}
	if err := c.checkInputKey(); err != nil {
		return err
	}
	if err := CheckLinesContaining(c.LinesContaining); err != nil {
		return err
	}
	return CheckPrograms(c)
}

// LineFilter implements mapreduce.LineFiltered: the lines the mapper is
// handed hold Commands.LinesContaining.
func (j *job) LineFilter(param func(name string) string) []byte {
	if j.fixed != nil {
		return []byte(j.fixed.LinesContaining)
	}
	return []byte(param(ParamLinesContaining))
}

// commands returns the job's commands, from its parameters (param is a
// task's tc.Param) for the generic job.
func (j *job) commands(param func(name string) string) (Commands, error) {
	if j.fixed != nil {
		return *j.fixed, nil
	}
	c := Commands{
		Mapper: param(ParamMapper), Combiner: param(ParamCombiner), Reducer: param(ParamReducer),
		InputKey: param(ParamInputKey), LinesContaining: param(ParamLinesContaining),
	}
	if f := param(ParamFiles); f != "" {
		c.Files = strings.Split(f, ",")
	}
	if s := param(ParamMaxLine); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return c, fmt.Errorf("%w: --%s %q: want a positive number of bytes", mapreduce.ErrConfig, ParamMaxLine, s)
		}
		c.MaxLine = n
	}
	if c.Mapper == "" {
		return c, fmt.Errorf("%w: a Streaming job needs a mapper command", mapreduce.ErrConfig)
	}
	return c, nil
}

// task describes tc's task to the programs.
func task(tc *mapreduce.TaskContext, isMap bool) Task {
	id := tc.TaskID()
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	return Task{Job: tc.Job(), ID: id, Attempt: tc.Attempt(), IsMap: isMap, Partition: n, Dir: tc.TempDir()}
}

// splits describes a map task's input to its programs: byte ranges, or
// whole files (Length -1) for formats split by row groups or batches.
func splits(in []input.Split) []Split {
	out := make([]Split, len(in))
	for i, s := range in {
		out[i] = Split{File: s.File.Path, Start: s.Start, Length: s.Len()}
		if s.Unit != input.Bytes {
			out[i].Start, out[i].Length = 0, -1
		}
	}
	return out
}

// taskReporter passes a program's reports to its task's counters and
// status.
type taskReporter struct{ tc *mapreduce.TaskContext }

func (r taskReporter) Count(name string, delta int64) { r.tc.Count(name, delta) }
func (r taskReporter) SetStatus(text string)          { r.tc.SetStatus(text) }

func (j *job) NewMapper(tc *mapreduce.TaskContext, out mapreduce.MapOutput) (mapreduce.Mapper, error) {
	cmds, err := j.commands(tc.Param)
	if err != nil {
		return nil, err
	}
	switch {
	case out.Budget() == 0:
		// An engine that wants every pair as it comes (Beam): a
		// combiner is optional, so it is left out.
		cmds.Combiner = ""
	case cmds.Combiner != "" && cmds.CombineBuffer == 0:
		// The held pairs and the sort buffer share the task's memory.
		cmds.CombineBuffer = int(out.Budget() / 2)
	}
	t, err := NewMapTask(cmds, task(tc, true), splits(mapreduce.TaskInput(tc)), taskReporter{tc})
	if err != nil {
		return nil, err
	}
	if mapreduce.SkipLimit(tc) > 0 {
		t.SkipBadRecords(func(file string, offset int64, err error) error {
			return mapreduce.SkipRecord(tc, file, offset, err)
		})
	}
	return &mapper{ctx: tc.Context(), task: t, emit: out.Emit}, nil
}

type mapper struct {
	ctx  context.Context
	task *MapTask
	emit func(key, value []byte)
}

func (m *mapper) Map(rec mapreduce.Record) error {
	return m.task.Map(m.ctx, rec.File, rec.Offset, rec.Value, m.emit)
}
func (m *mapper) Close() error { return m.task.Close(m.ctx, m.emit) }
func (m *mapper) Abort()       { m.task.Abort() }

// NewMapOnlyWriter creates an output file of text keys and values, named
// by the job's key and value column parameters: a reducer's output, or a
// map-only job's (mapreduce.MapOnlyJob), where the mapper's lines are the
// output as they come.
func (j *job) NewMapOnlyWriter(tc *mapreduce.TaskContext, path string, opts output.Options) (output.Writer[[]byte, []byte], error) {
	opts.TextBytes = true
	if opts.KeyName == "" {
		opts.KeyName = tc.Param(ParamKeyColumn)
	}
	if opts.ValueName == "" {
		opts.ValueName = tc.Param(ParamValueColumn)
	}
	w, err := output.Create[[]byte, []byte](path, opts)
	if err != nil {
		return nil, err
	}
	if kw, ok := w.(output.KeyWriter[[]byte]); ok {
		return lineWriter{w, kw}, nil
	}
	return w, nil
}

// lineWriter writes a pair with a nil value, which a program's line with
// no tab becomes (Proc), as the key alone: the text output then holds the
// lines as the program wrote them, where Hadoop's adds a tab to each. A
// line "key<TAB>" has an empty value that is not nil, and keeps its tab.
type lineWriter struct {
	output.Writer[[]byte, []byte]
	keys output.KeyWriter[[]byte]
}

func (w lineWriter) Write(k, v []byte) error {
	if v == nil {
		return w.keys.WriteKey(k)
	}
	return w.Writer.Write(k, v)
}

func (j *job) NewReducer(tc *mapreduce.TaskContext, path string, opts output.Options) (mapreduce.Reducer, error) {
	cmds, err := j.commands(tc.Param)
	if err != nil {
		return nil, err
	}
	w, err := j.NewMapOnlyWriter(tc, path, opts)
	if err != nil {
		return nil, err
	}
	r := &reducer{ctx: tc.Context(), w: w}
	r.emit = func(k, v []byte) {
		if err := r.w.Write(k, v); err != nil && r.werr == nil {
			r.werr = err // it names the output and the record
		}
	}
	if cmds.Reducer == "" {
		return r, nil // an identity reduce: the sorted map output is the output
	}
	if r.task, err = NewReduceTask(cmds, task(tc, false), taskReporter{tc}); err != nil {
		w.Abort()
		return nil, err
	}
	return r, nil
}

// reducer writes what the reducer program writes, or, without one, each
// pair it is given.
type reducer struct {
	ctx  context.Context
	task *ReduceTask // nil for a map-only job
	w    output.Writer[[]byte, []byte]
	emit func(key, value []byte)
	werr error
}

func (r *reducer) Reduce(key []byte, values iter.Seq[[]byte]) error {
	if r.task == nil {
		for v := range values {
			r.emit(key, v)
		}
		return r.werr
	}
	if err := r.task.Reduce(r.ctx, key, values, r.emit); err != nil {
		return err
	}
	return r.werr
}

func (r *reducer) Close() error {
	if r.task != nil {
		if err := r.task.Close(r.ctx, r.emit); err != nil {
			return err
		}
	}
	if r.werr != nil {
		return r.werr
	}
	return r.w.Close() // its error names the file (output.Writer)
}

func (r *reducer) Abort() {
	if r.task != nil {
		r.task.Abort()
	}
	r.w.Abort()
}

func (r *reducer) Records() int64 { return r.w.Records() }
func (r *reducer) Bytes() int64   { return r.w.Bytes() }
