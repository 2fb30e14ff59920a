// Package driver runs a job on this machine: it validates the Config,
// plans the input (internal/plan), takes the output directory
// (internal/commit), starts the engine (worker processes forked from this
// binary, exec, or the inline engine), runs the map and reduce phases' task
// attempts through the scheduler (internal/sched), commits each task's
// winning attempt and then the job, and keeps the job's status (JobStatus,
// _job.json). It is also the worker's entry point (Main), which runs the
// tasks the driver sends with the task layer (internal/task).
//
// It knows a job only as a task.ByteJob and holds no user API; package
// mapreduce re-exports what users name (Config, Result, Run by name, Main).
package driver
