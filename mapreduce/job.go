package mapreduce

import (
	"fmt"
	"iter"
	"reflect"
	"sort"
	"sync"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
)

// Record is one input record handed to a map function. Its slices are
// valid only until the map function returns; copy what you keep.
type Record struct {
	// File is the path of the input file the record came from.
	File string
	// Offset locates the record in its file: the byte offset of its first
	// byte in the (decompressed) file for line formats (text, CSV, TSV,
	// JSON lines), the row number for Parquet and Arrow.
	Offset int64
	// Value is the record: for text and JSON lines, the line without its
	// terminator; for CSV and TSV, the raw line; for Parquet and Arrow, the
	// row as a JSON object.
	Value []byte
	// Fields are the record's fields as text, in column order, for CSV,
	// TSV, Parquet and Arrow input; nil for text and JSON lines.
	Fields [][]byte
	// Columns names the fields (the CSV header, the Parquet or Arrow
	// schema). Shared by every record of a file: do not modify.
	Columns []string

	// jsonl is set for a record of JSON-lines input, whose columns are
	// the members of the line's object, found when first asked for (see
	// record.go).
	jsonl bool
}

// Field returns the field of the named column, or nil when there is none.
func (r Record) Field(column string) []byte {
	for i, c := range r.Columns {
		if c == column && i < len(r.Fields) {
			return r.Fields[i]
		}
	}
	return nil
}

// Sizer is implemented by value types whose memory grows as they are
// combined (a map of term counts, a list): Size reports a value's
// approximate memory in bytes, so that map-side combining spills when what
// it holds, not just how many keys, reaches the sort buffer's budget.
type Sizer interface {
	Size() int
}

// Partitioner assigns an encoded key to a reduce partition. The default is
// shuffle.HashPartitioner; shuffle.RangePartitioner gives a total order.
type Partitioner = shuffle.Partitioner

// Param declares a job parameter. Parameters reach the map and reduce
// functions, in whichever process runs them, through TaskContext.Param; the
// CLI turns each into a flag of `quern run APP`.
type Param struct {
	Name     string
	Usage    string
	Default  string
	Required bool
}

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

	// Map is called once per input record. It may call emit any number of
	// times; emit copies its arguments, so buffers may be reused. (A []byte
	// key may be read up to its capacity, with the bytes past its length
	// ignored: do not write those from another goroutine during emit.)
	Map func(tc *TaskContext, rec Record, emit func(K, V)) error

	// Combine, when set, merges two values of one key into one. It must be
	// associative and commutative (like Spark's reduceByKey or Beam's
	// CombinePerKey), because the framework calls it on map output in any
	// grouping and any number of times, including not at all.
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
}

// registry holds every registered job by name.
var registry = struct {
	sync.RWMutex
	jobs map[string]ByteJob
}{jobs: map[string]ByteJob{}}

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
	register(c.byteJob())
	return job
}

func register(job ByteJob) {
	name := job.Info().Name
	if name == "" {
		panic("mapreduce: job has no name")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.jobs[name]; dup {
		panic(fmt.Sprintf("mapreduce: job %q registered twice", name))
	}
	registry.jobs[name] = job
}

// Jobs lists the registered jobs, sorted by name.
func Jobs() []JobInfo {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]JobInfo, 0, len(registry.jobs))
	for _, r := range registry.jobs {
		out = append(out, r.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the registered job with the given name.
func Lookup(name string) (JobInfo, bool) {
	r, ok := lookup(name)
	if !ok {
		return JobInfo{}, false
	}
	return r.Info(), true
}

func lookup(name string) (ByteJob, bool) {
	registry.RLock()
	defer registry.RUnlock()
	r, ok := registry.jobs[name]
	return r, ok
}

// JobInfo describes a registered job.
type JobInfo struct {
	Name        string
	Description string
	Params      []Param
	// KeyType and ValueType name the map output types; OutKeyType and
	// OutValueType the reduce output types.
	KeyType, ValueType, OutKeyType, OutValueType string
	HasCombiner                                  bool
	TotalOrder                                   bool
	// NoReduce is set for a job that runs only map-only (Config.MapOnly):
	// a typed Job without Reduce.
	NoReduce bool
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
