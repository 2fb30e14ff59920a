// Package task is Quern's task layer: it runs one map or reduce task attempt
// of a job and knows the job only through the byte-level interface ByteJob
// (records in, encoded pairs out; an encoded key and its encoded values in,
// an output file out).
//
// A map task (RunMap) reads its splits' records (MapSplits, Record), hands
// each to the job's Mapper, and partitions, sorts and spills the pairs it
// emits into checksummed runs (SortedRuns), or, in a map-only job, writes
// them to the task's part file. A reduce task (RunReduce) merges its
// partition's segments of every run, groups them by key (CoGroup,
// GroupKeys) and hands each group to the job's Reducer, which writes the
// output file. Both count what they do (Counters), strike injected faults
// (QUERN_FAULTS, faults.go) and pass the worker's memory on to the next task
// (idle.go).
//
// It is not generic and holds no user API: the typed Job[K, V, OK, OV] of
// package mapreduce is an adapter over ByteJob, a Streaming job implements
// it directly, and the Beam runner calls the same interface. It knows
// nothing of processes, scheduling or committing: the driver
// (internal/driver) sends it MapSpec and ReduceSpec values and commits what
// they leave.
package task
