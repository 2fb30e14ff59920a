package mapreduce

import (
	"context"
	"fmt"
	"iter"
	"reflect"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
)

// Sizer is implemented by value types whose memory grows as they are
// combined (a map of term counts, a list): Size reports a value's
// approximate memory in bytes, so that map-side combining spills when what
// it holds, not just how many keys, reaches the sort buffer's budget. The
// combiner asks it before and after every Combine, so it should be cheap
// (a field the value keeps, or len of a map), and answer the same for a
// value that has not changed.
type Sizer interface {
	Size() int
}

// Partitioner assigns an encoded key to a reduce partition. The default is
// shuffle.HashPartitioner; shuffle.RangePartitioner gives a total order.
type Partitioner = shuffle.Partitioner

// Job defines a MapReduce job: the map function turns input records into
// key/value pairs of types K and V; pairs with equal keys are brought
// together, and the reduce function turns each key and its values into output
// records of types OK and OV.
//
// A Job is registered by name (Register) at package init, so that the driver
// and the worker processes it forks agree on what it is. Its functions must
// not depend on state set up in main: workers never run the user's main.
type Job[K, V, OK, OV any] struct {
	// Name identifies the job in the registry, on the CLI and in errors.
	Name string
	// Description is one line for `quern apps`.
	Description string
	// Params the job accepts.
	Params []Param
	// MalformedCounter names the counter Map adds 1 to for a record it
	// cannot read and skips (urlcount's malformed_lines). A job whose
	// every input record it counts ends with a warning: its output is
	// empty, and its input is likely not what it reads.
	MalformedCounter string
	// WarnCounters name counters that Map adds to for input it read in a
	// way its user may not expect, each with what to tell them: a job that
	// ends with one of them above zero warns, with the count (wordcount's
	// non_utf8_bytes: Latin-1 text has its accented words cut). The
	// answer is still committed.
	WarnCounters map[string]string
	// CheckParams, when set, checks the parameters (those given, and the
	// defaults of the rest) before the input is planned or any task runs:
	// its error fails the job at once as a configuration error (exit
	// status 2 on the command line). A value no record can make right (a
	// --k of 0, a regular expression that does not compile) would
	// otherwise fail every task in every attempt.
	CheckParams func(param func(name string) string) error

	// LineInput declares that Map reads each record's Value as a line of
	// text and never its Fields or Columns (a word count, grep, a parser
	// of log lines). A .csv or .tsv file is then read as text, its first
	// line a record like the others, as Hadoop's TextInputFormat reads
	// every file; without it, such a name selects the CSV or TSV format,
	// whose first line is a header that no Map sees. --input-format
	// (Config.InputFormat) still decides for every file when given.
	LineInput bool
	// LineFilter, when set, returns from the job's parameters bytes that
	// every record Map acts on holds: Map must do nothing (emit nothing,
	// count nothing, fail on nothing) with a record without them. Map
	// tasks then pass over the lines of Text and JSONL input that lack
	// them, counted as read (map_input_records) but never handed to Map:
	// each buffer of input is searched for the bytes at once, as GNU grep
	// searches, instead of being cut into lines first, a filter pushed
	// down into the reader as Spark and DuckDB push one into a Parquet
	// scan. grep returns its pattern's literal prefix. An empty result, or
	// one holding '\n' or '\r', hands Map every record, as do other input
	// formats.
	LineFilter func(param func(name string) string) []byte

	// Map is called once per input record. It may call emit any number of
	// times; emit copies its arguments, so buffers may be reused. (A []byte
	// key may be read up to its capacity, with the bytes past its length
	// ignored: do not write those from another goroutine during emit.)
	Map func(tc *TaskContext, rec Record, emit func(K, V)) error

	// Combine, when set, merges two values of one key into one. It must be
	// associative and commutative (like Spark's reduceByKey or Beam's
	// CombinePerKey), because the framework calls it on map output in any
	// grouping and any number of times, including not at all.
	//
	// Combine may modify a and return it (append to a list, add to a map):
	// the framework's a is always a value of its own, one it decoded or
	// an earlier Combine returned, never a value Map emitted, and it does
	// not use a again. b is only read: it may be Map's, so keep none of
	// its memory in the result (invertedindex appends b's paths to a).
	Combine func(a, b V) V

	// Reduce is called once per distinct key, in key order within a
	// partition, with an iterator over that key's values. The values are
	// streamed from disk: iterate once, and do not keep the iterator.
	//
	// A key of type []byte is valid until Reduce returns. A []byte value is
	// valid only until the iterator yields the next value: the bytes are a
	// view of the merge's buffer, which the next value may overwrite. Copy
	// a value you keep past its loop iteration (bytes.Clone, or append to
	// your own buffer), and never modify keys or values.
	//
	// A job without Reduce only runs map-only (Config.MapOnly): its output
	// is the pairs Map emits, of types K and V (OK and OV are unused).
	Reduce func(tc *TaskContext, key K, values iter.Seq[V], emit func(OK, OV)) error

	// KeyCodec encodes keys in an order-preserving way. Nil selects the
	// built-in codec for strings, byte slices, integers, floats and bools.
	KeyCodec Codec[K]
	// ValueCodec encodes values. Nil selects a built-in codec (JSON for
	// types without one).
	ValueCodec Codec[V]
	// Partitioner, when set, replaces hash partitioning.
	Partitioner Partitioner

	// TotalOrder gives each reducer a contiguous range of keys, so that the
	// part files, taken in order, hold every key in global order. The
	// driver picks the ranges from a sample of the map output's keys, as
	// TeraSort does. It excludes Partitioner.
	TotalOrder bool
	// OutOfKeyOrder declares that Reduce emits output keys out of key
	// order (topk writes its K entries by count), so that part files are
	// not sorted and cannot be merged by key: Config.Merge is refused
	// before any task runs, rather than failing after the whole job.
	OutOfKeyOrder bool

	// KeyColumn and ValueColumn name the output's columns in JSON lines,
	// Parquet and Arrow output ("key" and "value" when empty). A struct
	// output key or value is not one column but several: each exported
	// field is a column, named by its json tag (see package output). Text
	// output has no names: it stays "key<TAB>value" lines.
	KeyColumn, ValueColumn string
	// TextBytes declares that a []byte output key or value is text, so
	// that it is a string column (VARCHAR in DuckDB) and a JSON string
	// rather than binary and base64. Bytes that are not valid UTF-8 still
	// round-trip; docs/formats.md says how.
	TextBytes bool
	// ColumnsFromInput, when set, names the columns of a []string output
	// value (a row of text fields, such as join's) after the job's input:
	// the driver calls it once while planning, with the job's parameters
	// and input files, and each name becomes a text column of JSON lines,
	// Parquet and Arrow output instead of one list column named
	// ValueColumn (see output.Options.ValueColumns). No names keep the
	// list column. An error fails the job before any task runs.
	ColumnsFromInput func(param func(name string) string, files []input.File) ([]string, error)

	// SortValues, when set, sorts each key's values before Reduce sees them
	// (a secondary sort): it appends to dst an order-preserving encoding of
	// a value's sort field, and values reach Reduce in bytes.Compare order
	// of those encodings (equal ones in the order they were emitted). Build
	// one with ValueOrder. It excludes Combine, which would merge values
	// whose order matters.
	SortValues func(dst []byte, v V) []byte

	// MaxSplitSize, when set, lets the job's split size (where the Config
	// gives none) grow from DefaultSplitSize up to it while the input still
	// makes two map tasks per worker. A job whose combiner folds each
	// task's pairs into a table sets it: every map task flushes, sorts,
	// spills and shuffles one record per distinct key whatever its size,
	// so fewer, larger tasks do less of that. A job whose map output is
	// as large as its input is better off without: at 64 MiB splits sort
	// ran 1.4 times slower, its tasks spilling twice (docs/benchmarks.md,
	// sessions 15 and 16).
	MaxSplitSize int64
}

// Register makes a job runnable by name and returns it. Call it from a
// package-level var or init, never conditionally, so that the worker
// processes (which start from the same binary but do not run main) register
// the same jobs. It panics on a programming error: an empty or duplicate
// name, a missing Map, or a key type without an order-preserving
// codec.
func Register[K, V, OK, OV any](job *Job[K, V, OK, OV]) *Job[K, V, OK, OV] {
	c, err := job.compile()
	if err != nil {
		panic(err)
	}
	task.RegisterByteJob(c.byteJob())
	return job
}

// Run runs a job and returns its result, or an error that names the task,
// its input and its last attempt's error. The local engine needs the job to
// be registered (Register), so that the worker processes can find it.
func Run[K, V, OK, OV any](ctx context.Context, job *Job[K, V, OK, OV], cfg Config) (*Result, error) {
	if r, ok := task.LookupByteJob(job.Name); ok {
		if t, same := r.(typed); same && t.typedJob() == any(job) {
			return driver.Run(ctx, r, cfg)
		}
		return nil, fmt.Errorf("mapreduce: another job is registered under the name %q", job.Name)
	}
	if cfg.Engine != EngineInline {
		return nil, fmt.Errorf("mapreduce: job %q is not registered; the %s engine's workers can only run registered jobs (call Register at package init)",
			job.Name, EngineLocal)
	}
	c, err := job.compile()
	if err != nil {
		return nil, err
	}
	return driver.Run(ctx, c.byteJob(), cfg)
}

func (job *Job[K, V, OK, OV]) compile() (*compiled[K, V, OK, OV], error) {
	if job.Name == "" {
		return nil, fmt.Errorf("mapreduce: job has no name")
	}
	if job.Map == nil {
		return nil, fmt.Errorf("mapreduce: job %q needs a Map function", job.Name)
	}
	c := &compiled[K, V, OK, OV]{job: job, keys: job.KeyCodec, values: job.ValueCodec, part: job.Partitioner}
	if c.keys == nil {
		c.keys = KeyCodecFor[K]()
		if c.keys == nil {
			return nil, fmt.Errorf("mapreduce: job %q: key type %s has no order-preserving codec; set Job.KeyCodec",
				job.Name, reflect.TypeFor[K]())
		}
	}
	if c.values == nil {
		c.values = ValueCodecFor[V]()
	}
	if job.TotalOrder && job.Partitioner != nil {
		return nil, fmt.Errorf("mapreduce: job %q: TotalOrder picks its own partitioner; do not set Partitioner", job.Name)
	}
	if job.SortValues != nil && job.Combine != nil {
		return nil, fmt.Errorf("mapreduce: job %q: SortValues and Combine exclude each other", job.Name)
	}
	if c.part == nil {
		c.part = shuffle.HashPartitioner{}
	}
	return c, nil
}

// outputOptions completes the options of an output file (format and
// compression, from the job's config) with the job's column names and text
// declaration.
func (job *Job[K, V, OK, OV]) outputOptions(o output.Options) output.Options {
	if o.KeyName == "" {
		o.KeyName = job.KeyColumn
	}
	if o.ValueName == "" {
		o.ValueName = job.ValueColumn
	}
	o.TextBytes = o.TextBytes || job.TextBytes
	return o
}

// typeName names a type in JobInfo.
func typeName[T any]() string { return reflect.TypeFor[T]().String() }
