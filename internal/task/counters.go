package task

import (
	"maps"
	"slices"
)

// Counters maps counter names to values. The framework's own counters use the
// names below; user counters (TaskContext.Count) share the namespace.
type Counters map[string]int64

// Built-in counters.
const (
	MapInputRecords        = "map_input_records"
	MapInputBytes          = "map_input_bytes"
	MapOutputRecords       = "map_output_records"
	CombineInputRecords    = "combine_input_records"
	CombineOutputRecords   = "combine_output_records"
	CombineWindowedRecords = "combine_windowed_records"
	SpilledRecords         = "spilled_records"
	SpillFiles             = "spill_files"
	SpillBytes             = "spill_bytes"
	ShuffleBytes           = "shuffle_bytes"
	MergePasses            = "merge_passes"
	ReduceInputGroups      = "reduce_input_groups"
	ReduceInputRecords     = "reduce_input_records"
	ReduceOutputRecords    = "reduce_output_records"
	OutputBytes            = "output_bytes"
	SkippedRecords         = "skipped_records"
	// GrownInputSplits counts the splits read from a file that had
	// grown since the job was planned (a log being written), which are
	// read as planned (input.LineReader.Grown). Unlike the counters
	// above, it is absent where it would be 0.
	GrownInputSplits = "grown_input_splits"
	// FilteredInputRecords counts the records read and counted in
	// MapInputRecords but never handed to Map, for want of the bytes a
	// job's line filter names (LineFiltered). Absent where it would be 0.
	FilteredInputRecords = "filtered_input_records"
)

// BuiltinCounters lists the framework's counters in the order a summary
// prints them.
var BuiltinCounters = []string{
	MapInputRecords, MapInputBytes, MapOutputRecords,
	CombineInputRecords, CombineOutputRecords,
	SpilledRecords, SpillFiles, SpillBytes, ShuffleBytes, MergePasses,
	ReduceInputGroups, ReduceInputRecords, ReduceOutputRecords, OutputBytes,
	SkippedRecords,
}

// Add adds every counter of o to c.
func (c Counters) Add(o Counters) {
	for k, v := range o {
		c[k] += v
	}
}

// Sub subtracts every counter of o from c.
func (c Counters) Sub(o Counters) {
	for k, v := range o {
		c[k] -= v
	}
}

// Names returns the counter names: built-in ones first in summary order,
// then the others sorted.
func (c Counters) Names() []string {
	var names []string
	builtin := map[string]bool{}
	for _, n := range BuiltinCounters {
		builtin[n] = true
		names = append(names, n)
	}
	for _, n := range slices.Sorted(maps.Keys(c)) {
		if !builtin[n] {
			names = append(names, n)
		}
	}
	return names
}
