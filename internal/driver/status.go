package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/internal/task"
)

// JobStatus is a snapshot of a job as a status page shows it: its phases,
// every task attempt with its worker, progress, memory and counters, and
// the job's counters so far. The driver hands a function returning fresh
// snapshots to Config.OnStart; _job.json holds the final one (the same
// JSON keys), so a finished job reads back as a JobStatus.
type JobStatus struct {
	Job    string `json:"job"`
	Engine string `json:"engine"`
	Output string `json:"output"`
	// Origin says how the job was started: its working directory names
	// the folder of a relative Output, which a job history of jobs run
	// from many folders needs.
	Origin
	// State is "running", "succeeded" or "failed".
	State string `json:"state"`
	// Error is a failed job's error.
	Error     string        `json:"error,omitempty"`
	Started   time.Time     `json:"started"`
	ElapsedMS float64       `json:"elapsed_ms"`
	Workers   int           `json:"workers"`
	Phases    []PhaseStatus `json:"phases"`
	// Counters are those of the committed tasks.
	Counters task.Counters `json:"counters"`
	Tasks    []TaskStatus  `json:"tasks"`
	// Stages are a pipeline's stages in order (package pipeline), whose
	// tasks' Phase is their stage's name; nil for a job.
	Stages []StageStatus `json:"stages,omitempty"`
	// Warnings are what the job warned of: its plan's warnings while
	// it runs (an input that is likely a mistake), and at its end also
	// those of its counters (input that grew while it ran, records its
	// app could not read, an output left empty).
	Warnings []string `json:"warnings,omitempty"`
}

// Ended is when the job ended, or the time of the snapshot while it runs.
func (s JobStatus) Ended() time.Time {
	return s.Started.Add(time.Duration(s.ElapsedMS * float64(time.Millisecond)))
}

// StageStatus is one stage of a pipeline: its state, its progress over
// all its rounds, what it read and its counters so far. StartMS counts from
// the pipeline's start; ElapsedMS is the time its tasks ran, over all its
// rounds (so far, while it runs). A pipeline's _job.json has the same keys.
type StageStatus struct {
	Name string `json:"name"`
	// Kind is "read", "group" or "state"; Loop names the loop holding it.
	Kind string `json:"kind"`
	Loop string `json:"loop,omitempty"`
	// State is "waiting", "running", "succeeded", "failed", "reused" (a
	// resumed run took its output from the run before) or "not run" (a
	// stage it depends on failed).
	State  string `json:"state,omitempty"`
	Rounds int    `json:"rounds,omitempty"`
	// Tasks are its committed tasks over all rounds; Done and Total its
	// progress, Total counting the tasks of every round.
	Tasks     int           `json:"tasks"`
	Done      int           `json:"done,omitempty"`
	Total     int           `json:"total,omitempty"`
	Reads     []string      `json:"reads,omitempty"`
	StartMS   float64       `json:"start_ms"`
	ElapsedMS float64       `json:"elapsed_ms"`
	Counters  task.Counters `json:"counters"`
	Reused    bool          `json:"reused,omitempty"`
}

// PhaseStatus is the progress of the map or the reduce phase. StartMS and
// EndMS count from the job's start; EndMS is 0 while the phase runs.
type PhaseStatus struct {
	Name       string  `json:"name"`
	Done       int     `json:"done"`
	Total      int     `json:"total"`
	Bytes      int64   `json:"bytes"`
	TotalBytes int64   `json:"total_bytes"`
	StartMS    float64 `json:"start_ms"`
	EndMS      float64 `json:"end_ms"`
}

// TaskStatus is one task and its attempts, in attempt order.
type TaskStatus struct {
	ID       string          `json:"id"`
	Phase    string          `json:"phase,omitempty"`
	Input    string          `json:"input"`
	Attempts []AttemptStatus `json:"attempts"`
}

// AttemptStatus is one attempt of a task. StartMS counts from the job's
// start; DurationMS is the time so far while the attempt runs. Log is the
// file holding the worker's output during the attempt: a path in the work
// directory while the job runs, "_logs/NAME" relative to the output
// directory in _job.json for a failed attempt whose log was kept, and ""
// when the worker wrote nothing.
type AttemptStatus struct {
	Attempt    int     `json:"attempt"`
	State      string  `json:"state"`
	Pid        int     `json:"pid,omitempty"`
	StartMS    float64 `json:"start_ms"`
	DurationMS float64 `json:"duration_ms"`
	Done       int64   `json:"done,omitempty"`
	Total      int64   `json:"total,omitempty"`
	// Status is what the attempt last said it was doing
	// (TaskContext.SetStatus).
	Status   string        `json:"status,omitempty"`
	PeakRSS  int64         `json:"peak_rss,omitempty"`
	Counters task.Counters `json:"counters,omitempty"`
	Error    string        `json:"error,omitempty"`
	Log      string        `json:"log,omitempty"`
	LogTail  string        `json:"log_tail,omitempty"`
}

// Attempt states.
const (
	AttemptRunning   = "running"
	AttemptSucceeded = "succeeded"
	AttemptFailed    = "failed"
	// AttemptKilled: stopped before it ended, having lost the race to a
	// speculative twin or been cancelled as the job stopped (another task
	// failed, or the job was interrupted). Not the attempt's own failure.
	AttemptKilled = "killed"
)

// Job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// logTailSize is how much of a failed attempt's log its status carries.
const logTailSize = 2 << 10

// logsDir is where attempt logs live, in the work directory while the job
// runs and in the output directory for failed attempts.
const logsDir = commit.LogsName

// AttemptLogPath is the file that keeps the worker's output during one
// attempt of a task (exec.Task.Log), in a job's (or a pipeline's) work
// directory.
func AttemptLogPath(work, task string, attempt int) string {
	return filepath.Join(work, logsDir, fmt.Sprintf("%s-attempt-%d.log", task, attempt))
}

// AttemptEnd is how an attempt ended, for its report (AttemptReport.End).
type AttemptEnd struct {
	Duration     time.Duration
	State, Error string
	Log, LogTail string
}

// EndOf says how attempt of task id ended, after took, with err: its state
// and error, and its log in the work directory if its worker wrote one (a
// failed attempt's also carries the log's end). It reads the log: call it
// without the driver's lock.
func EndOf(work, id string, attempt int, took time.Duration, err error, lostRace bool) AttemptEnd {
	e := AttemptEnd{Duration: took, State: AttemptSucceeded}
	switch {
	case lostRace:
		e.State, e.Error = AttemptKilled, "killed: another attempt committed first"
	case errors.Is(err, context.Canceled):
		// The job's context: a deadline of the attempt's own (a hung
		// task) is DeadlineExceeded, a failure of the attempt.
		e.State, e.Error = AttemptKilled, "killed: the job stopped"
	case err != nil:
		e.State, e.Error = AttemptFailed, err.Error()
	}
	// The local engine's pool creates the log with the worker's first
	// byte of output during the attempt (exec.Task.Log).
	if path := AttemptLogPath(work, id, attempt); work != "" {
		if _, serr := os.Stat(path); serr == nil {
			e.Log = path
			if e.State == AttemptFailed {
				e.LogTail = readTail(path, logTailSize)
			}
		}
	}
	return e
}

// End records how the attempt ended.
func (a *AttemptReport) End(e AttemptEnd) {
	a.Duration, a.State, a.Error, a.Log, a.LogTail = e.Duration, e.State, e.Error, e.Log, e.LogTail
}

// Heartbeat records the attempt's worker, progress and memory, as the
// worker pool reports them when it sends the task and at every heartbeat.
func (a *AttemptReport) Heartbeat(s exec.Status) {
	a.Pid, a.Done, a.Total, a.Status = s.Pid, s.Done, s.Total, s.Text
	a.PeakRSS = max(a.PeakRSS, s.PeakRSS)
}

// status returns a snapshot of the job. Safe from any goroutine.
func (d *driver) status() JobStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := JobStatus{
		Job: d.name, Engine: d.cfg.Engine, Output: d.out, Origin: d.origin, State: d.state, Error: d.jobErr,
		Started: d.started, Workers: d.cfg.Workers, Counters: maps.Clone(d.counters),
		Phases: slices.Clone(d.phases), Warnings: slices.Clone(d.warnings),
	}
	end := d.ended
	if end.IsZero() {
		end = time.Now()
	}
	s.ElapsedMS = millis(end.Sub(d.started))
	for _, id := range slices.Sorted(maps.Keys(d.tasks)) {
		s.Tasks = append(s.Tasks, d.tasks[id].Status(d.started, end))
	}
	return s
}

// Status is the task as a status page shows it, with times from started
// and a running attempt's duration up to now.
func (t *TaskReport) Status(started, now time.Time) TaskStatus {
	ts := TaskStatus{ID: t.ID, Phase: t.Phase, Input: t.Input}
	for _, a := range t.Attempts {
		took := a.Duration
		if a.State == AttemptRunning {
			took = now.Sub(a.Start)
		}
		ts.Attempts = append(ts.Attempts, AttemptStatus{
			Attempt: a.Attempt, State: a.State, Pid: a.Pid, StartMS: millis(a.Start.Sub(started)),
			DurationMS: millis(took), Done: a.Done, Total: a.Total, PeakRSS: a.PeakRSS, Status: a.Status,
			Counters: maps.Clone(a.Counters), Error: a.Error, Log: a.Log, LogTail: a.LogTail,
		})
	}
	return ts
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// attemptReport returns the report of a started attempt; d.mu must be held.
func (d *driver) attemptReport(id string, attempt int) *AttemptReport {
	if t := d.tasks[id]; t != nil {
		for i := range t.Attempts {
			if t.Attempts[i].Attempt == attempt {
				return &t.Attempts[i]
			}
		}
	}
	return nil
}

// liveBytes returns how many of a running map task's bytes its furthest
// running attempt has read, from the progress its heartbeats carried
// (done of total, in the unit of the task's length), so that the map
// phase's progress moves while a long task runs, not only when it ends.
func (d *driver) liveBytes(id string, bytes int64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tasks[id].LiveBytes(bytes)
}

// LiveBytes is how many of a running task's bytes of input its attempts
// have read: bytes times the furthest running attempt's share of its
// work, as of its last heartbeat (0 for a nil t). The pipeline's driver
// reports its read stages' bytes with it too.
func (t *TaskReport) LiveBytes(bytes int64) int64 {
	if t == nil {
		return 0
	}
	var best float64
	for _, a := range t.Attempts {
		if a.State == AttemptRunning && a.Total > 0 {
			best = max(best, min(1, float64(a.Done)/float64(a.Total)))
		}
	}
	return int64(best * float64(bytes))
}

// heartbeat records a running attempt's worker, progress and memory, as
// the worker pool reports them when it sends the task and at every
// heartbeat.
func (d *driver) heartbeat(s exec.Status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.attemptReport(s.TaskID, s.Attempt); a != nil {
		a.Heartbeat(s)
	}
}

// attemptSucceeded records what a successful attempt counted and used.
func (d *driver) attemptSucceeded(id string, attempt int, c task.Counters, rss int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.attemptReport(id, attempt); a != nil {
		a.Counters = maps.Clone(c)
		a.PeakRSS = max(a.PeakRSS, rss)
	}
}

// recordProgress keeps the phases' progress for the status.
func (d *driver) recordProgress(p Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := millis(time.Since(d.started))
	i := slices.IndexFunc(d.phases, func(ph PhaseStatus) bool { return ph.Name == p.Phase })
	if i < 0 {
		d.phases = append(d.phases, PhaseStatus{Name: p.Phase, StartMS: now})
		i = len(d.phases) - 1
	}
	ph := &d.phases[i]
	ph.Done, ph.Total, ph.Bytes, ph.TotalBytes = p.Done, p.Total, p.Bytes, p.TotalBytes
	if p.Done == p.Total {
		ph.EndMS = now
	}
}

// setWarnings sets the warnings the status shows.
func (d *driver) setWarnings(warnings []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.warnings = slices.Clone(warnings)
}

// jobEnded records the job's final state.
func (d *driver) jobEnded(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ended = time.Now()
	d.state = JobSucceeded
	if err != nil {
		d.state, d.jobErr = JobFailed, err.Error()
	}
}

// readTail returns up to n bytes from the end of a file, "" if it cannot
// be read.
func readTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		if _, err := f.Seek(fi.Size()-n, io.SeekStart); err != nil {
			return ""
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return string(b)
}

// keepFailedLogs keeps the logs of the job's failed attempts in its
// output directory (KeepFailedLogs).
func (d *driver) keepFailedLogs() {
	d.mu.Lock()
	defer d.mu.Unlock()
	KeepFailedLogs(d.out, maps.Values(d.tasks), d.cfg.Logger)
}

// KeepFailedLogs copies the logs of failed attempts into the output's
// _logs directory, so that a failure can be read after the work directory
// is gone, and points their reports at the copies (relative to the
// output directory). Best effort: a log that cannot be copied is dropped
// from the report rather than failing the job.
func KeepFailedLogs(out string, tasks iter.Seq[*TaskReport], logger *slog.Logger) {
	for t := range tasks {
		for i := range t.Attempts {
			a := &t.Attempts[i]
			if a.State != AttemptFailed || a.Log == "" || !filepath.IsAbs(a.Log) {
				continue
			}
			rel := filepath.Join(logsDir, filepath.Base(a.Log))
			if err := copyFile(a.Log, filepath.Join(out, rel)); err != nil {
				logger.Warn("cannot keep a failed attempt's log", "task", t.ID, "attempt", a.Attempt, "err", err)
				a.Log = ""
				continue
			}
			a.Log = rel
		}
	}
}

// keptLog returns the path of the log of task's last failed attempt, as
// keepFailedLogs kept it in the output directory, or "".
func (d *driver) keptLog(task string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.tasks[task]
	if t == nil {
		return ""
	}
	for i := len(t.Attempts) - 1; i >= 0; i-- {
		a := t.Attempts[i]
		if a.State == AttemptFailed && a.Log != "" && !filepath.IsAbs(a.Log) {
			return filepath.Join(d.out, a.Log)
		}
	}
	return ""
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}
