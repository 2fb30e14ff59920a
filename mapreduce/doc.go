// Package mapreduce is Quern's public API: a typed Job[K, V, OK, OV] with
// its Map, Combine and Reduce functions, the codecs that encode its keys
// and values, Register and Run, the Config a job runs with and the Result
// it returns, and Main, the entry point of the worker processes.
//
// A typed job reaches the task layer (internal/task) through an adapter
// (adapter.go) over the byte-level interface ByteJob, which keeps the typed
// fast paths: a combining hash table (combiner.go) and []byte values handed
// to Reduce as views of the merge's buffer. The driver (internal/driver)
// runs jobs; the types of both that programs name (Record, TaskContext,
// Counters, Config, Result, JobStatus, ByteJob ...) are aliases here
// (api.go), so that a program needs only this package.
package mapreduce
