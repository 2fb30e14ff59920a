package task

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// Param declares a job parameter. Parameters reach the map and reduce
// functions, in whichever process runs them, through TaskContext.Param; the
// CLI turns each into a flag of `quern run APP`.
type Param struct {
	Name     string
	Usage    string
	Default  string
	Required bool
}

// registry holds every registered job by name.
var registry = struct {
	sync.RWMutex
	jobs map[string]ByteJob
}{jobs: map[string]ByteJob{}}

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
	// LineInput is set for a job whose Map reads records as lines of
	// text: CSV and TSV files are read as Text (input.AsLines) unless the
	// Config names a format.
	LineInput bool
	// SplitSize, if set, is the job's split size when its Config gives
	// none (instead of mapreduce.DefaultSplitSize), and MaxSplitSize how far that
	// default may grow to make one map task per worker (Config's
	// MaxSplitSize): a Streaming job starts its program per map task. A
	// split size given in the Config is kept as it is. TasksPerWorker, above
	// 1, grows it only while each worker keeps that many tasks (Config's
	// TasksPerWorker).
	SplitSize, MaxSplitSize int64
	TasksPerWorker          int
	// MalformedCounter names the counter Map adds to for a record it
	// cannot read and skips (Job.MalformedCounter).
	MalformedCounter string
	// WarnCounters name counters that end a job with a warning when above
	// zero, each with its text (Job.WarnCounters).
	WarnCounters map[string]string
}

// EmptyOutput returns the warning for a finished job whose output is
// empty, which otherwise looks like an answer: its input gave no records
// (an empty file, a pattern that matched only empty files, the wrong
// --input-format), or its records gave no output. mapOnly says that the
// map output is the output. ok is false for a job with output, and for one
// whose every record was malformed, which Warnings says already.
func EmptyOutput(info JobInfo, counters Counters, mapOnly bool) (warning string, ok bool) {
	out := counters[ReduceOutputRecords]
	if mapOnly {
		out = counters[MapOutputRecords]
	}
	switch in := counters[MapInputRecords]; {
	case allMalformed(info, counters):
		return "", false
	case in == 0:
		return "the input produced no records: the output is empty (check the inputs and their format)", true
	case out == 0 && in == 1:
		return "the one input record produced no output record: the output is empty", true
	case out == 0:
		return fmt.Sprintf("%d input records produced no output records: the output is empty", in), true
	}
	return "", false
}

// allMalformed reports whether the job read records and its
// MalformedCounter counted every one of them.
func allMalformed(info JobInfo, counters Counters) bool {
	n := counters[MapInputRecords]
	return info.MalformedCounter != "" && n > 0 && counters[info.MalformedCounter] >= n
}

// Warnings returns the warnings for a finished job's counters: that it
// could read none of its input records (every one counted in its
// MalformedCounter), so its output is empty, which otherwise looks like an
// answer (a word count's output given to urlcount, text given to
// termvector); that some of its input grew while it ran
// (GrownInputSplits); and one for each of its WarnCounters above zero, in
// the counters' order.
func Warnings(info JobInfo, counters Counters) []string {
	var warnings []string
	if n := counters[GrownInputSplits]; n > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: %s %d: input files grew while the job ran (logs being written?); "+
			"they were read as planned, up to the size they had then: what was written since is for the next run", info.Name, GrownInputSplits, n))
	}
	n := counters[MapInputRecords]
	if allMalformed(info, counters) {
		warnings = append(warnings, fmt.Sprintf("%s could read none of its %d input records (%s %d), so its output is empty: is the input what it reads? (%s)",
			info.Name, n, info.MalformedCounter, counters[info.MalformedCounter], info.Description))
	}
	for _, name := range slices.Sorted(maps.Keys(info.WarnCounters)) {
		if c := counters[name]; c > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s %d: %s", info.Name, name, c, info.WarnCounters[name]))
		}
	}
	return warnings
}
