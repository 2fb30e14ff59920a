// Package sched runs a job's tasks to completion: every task until one of
// its attempts succeeds, on a fixed number of slots, retrying a failed
// attempt until the task has failed MaxAttempts times and, when asked,
// starting a backup attempt of a straggler (speculative execution).
//
// It knows nothing of what a task does. The caller hands it the tasks and
// a function that runs one attempt, commits what the attempt made (the
// first attempt of a task to commit wins) and returns its error; the
// scheduler hears of every attempt's start and end through its hooks,
// which is where the caller keeps its reports. A task timeout and the
// replacement of a worker that died belong to the worker pool (package
// exec): to the scheduler they are attempts that failed.
//
// One Scheduler serves a whole job: its phases (Run, one after another)
// and the remakes of committed tasks whose output was lost (Again, from
// inside another phase's attempt), which number their attempts on from
// the task's earlier ones.
package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Task is one task of a phase.
type Task struct {
	ID    string // e.g. "map-00003"; names the task in reports and errors
	Input string // what it reads, for errors and reports
	// Bytes is the size of its input; a phase whose tasks have bytes
	// reports them in its progress.
	Bytes int64
	// Splittable says that the task's attempts may be asked to give up
	// part of their input (Phase.Split), and Work is the size of that
	// input, what a split weighs: Bytes, or more where Bytes leaves part
	// of it out (a chunk of a spooled file, whose bytes its spool task
	// counts).
	Splittable bool
	Work       int64
}

// AttemptFunc runs one attempt of tasks[i], numbered attempt, and commits
// its result unless another attempt of the task committed first. It must
// stop soon after ctx is done. An error wrapped by Fatal fails the phase
// at once, whatever attempts the task has left.
type AttemptFunc func(ctx context.Context, i, attempt int) error

// Progress is a phase's state, reported as tasks commit.
type Progress struct {
	Phase       string
	Done, Total int   // tasks committed, tasks in the phase
	Bytes       int64 // input bytes of committed tasks plus what running attempts have read (LiveBytes)
	TotalBytes  int64 // input bytes of the phase (the tasks' Bytes)
}

// Scheduler runs the tasks of one job. Set its fields before the first
// Run; they are not changed afterwards.
type Scheduler struct {
	Job         string // names the job in a TaskError
	Slots       int    // attempts that may run at once (at least 1)
	MaxAttempts int    // failed attempts that fail a task (at least 1)
	// Speculative lets a slot left idle at the end of a phase start a
	// backup attempt of a task that has run longer than twice the median
	// task and than SpeculativeAfter; whichever attempt commits first
	// wins and the other is cancelled.
	Speculative      bool
	SpeculativeAfter time.Duration
	Logger           *slog.Logger // nil: no log

	// OnStart hears of a new attempt before it runs; OnEnd of how it
	// ended: err nil for success, killed when it lost the race to an
	// attempt of the same task that committed first. Both may be nil.
	OnStart func(phase string, t Task, attempt int)
	OnEnd   func(t Task, attempt int, took time.Duration, err error, killed bool)
	// OnProgress, if set, is called when a phase starts and as its tasks
	// commit; it must not block. For a phase whose tasks have bytes,
	// LiveBytes, if set, says how many of a running task's input bytes
	// its attempts have read, so the bytes move while a long task runs.
	OnProgress func(Progress)
	LiveBytes  func(t Task) int64
	// Shared, if set, are slots that several schedulers draw from (the
	// stages of a pipeline running side by side on one worker pool): an
	// attempt runs only while it holds one of them as well as one of this
	// scheduler's own Slots. Time spent waiting for a shared slot counts
	// as running time when a straggler is looked for.
	Shared *Slots

	mu       sync.Mutex
	attempts map[string]int // attempts started, by task ID
}

// TaskError is the error of a phase whose task failed every attempt.
type TaskError struct {
	Job      string
	Task     string
	Input    string
	Attempts int
	Err      error // the last attempt's error
	// Log is the last failed attempt's worker output (a Streaming
	// program's stderr among it), kept in the output directory's _logs;
	// "" if it wrote nothing. The scheduler leaves it empty; the driver
	// fills it in when it keeps the logs.
	Log string
}

func (e *TaskError) Error() string {
	msg := fmt.Sprintf("job %s: task %s (%s) failed after %d attempt(s): %v", e.Job, e.Task, e.Input, e.Attempts, e.Err)
	if e.Log != "" {
		msg += "\n(its log: " + e.Log + ")"
	}
	return msg
}

func (e *TaskError) Unwrap() error { return e.Err }

// Fatal marks an attempt's error that fails the phase at once, whatever
// attempts its task has left (a task that Again could not make again).
func Fatal(err error) error { return fatal{err} }

type fatal struct{ error }

// IsFatal reports whether err, an attempt's error, was marked by Fatal.
func IsFatal(err error) bool {
	var f fatal
	return errors.As(err, &f)
}

func (f fatal) Unwrap() error { return f.error }

// Slots are a worker pool's slots, shared by the schedulers of work
// that runs side by side on it (Scheduler.Shared).
type Slots struct{ tokens chan struct{} }

// NewSlots returns n slots (at least 1).
func NewSlots(n int) *Slots { return &Slots{tokens: make(chan struct{}, max(n, 1))} }

// acquire takes a slot, or fails when ctx is done first.
func (sl *Slots) acquire(ctx context.Context) error {
	select {
	case sl.tokens <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sl *Slots) release() { <-sl.tokens }

// Intervals of the scheduler's clocks.
const (
	speculateInterval    = 100 * time.Millisecond // how often a straggler is looked for
	liveProgressInterval = 500 * time.Millisecond // a worker's heartbeat
)

// Phase is what Run schedules: a named set of tasks and the function
// that runs an attempt of one.
type Phase struct {
	Name    string // "map", "reduce"; passed to OnStart and in Progress
	Tasks   []Task
	Attempt AttemptFunc
	// Join, if not nil, adds tasks to the phase while it runs (a spooled
	// file's chunks, as they are written): the scheduler receives a
	// function from it and calls it in its own goroutine with the number
	// the new task gets, len(tasks) so far; if it returns true, the task
	// joins the phase, to be run like the others and counted in its
	// progress's Total and, once done, Bytes (not in TotalBytes: a joined
	// task reads part of what a task of the phase already counts, such as
	// a chunk of a spooled file). A sender whose send went through knows
	// the scheduler has taken its task.
	Join <-chan func(i int) (Task, bool)
	// Split, if not nil, lets a slot that would idle at the end of the
	// phase take over part of a running task's input (dynamic work
	// rebalancing, as Dataflow does it). When no task waits for a slot,
	// the scheduler asks the running attempt of the Splittable task with
	// the most input left (its Work less the share read), if that is at least
	// SplitAbove, to give part of it up: it sends a request on the
	// channel that SplitRequests finds in the attempt's context, for the
	// attempt to pass on to its worker (exec.Task.Split), and waits for
	// the answer. An answer that gives something up goes to Split, in a
	// goroutine of the scheduler's, which returns a function that the
	// scheduler calls in its own goroutine with the number the new task
	// gets, and which returns the new task and what is left of task i
	// (its Bytes less the new task's); or an error, which fails the
	// phase, for an answer it cannot take (the attempt did not do the
	// work it gave up, which nobody else would do).
	//
	// One task is split at a time. An attempt of the task that ends while
	// it is being split is settled once the split is, so that a retry
	// reads only what the task kept; no twin of it starts meanwhile, and
	// a task with a twin is not split. A task that kept all its input is
	// not asked again.
	Split      func(i int, gaveUp []byte) (func(j int) (split, kept Task), error)
	SplitAbove int64
}

// SplitRequests returns the channel of split requests for the attempt
// whose context is ctx (Phase.Split), or nil for an attempt that is never
// asked. Each request is a channel with room for the answer: what the
// attempt gave up, or nil; every request taken must be answered before
// the attempt returns.
func SplitRequests(ctx context.Context) <-chan chan<- []byte {
	r, _ := ctx.Value(splitRequestsKey{}).(chan chan<- []byte)
	return r
}

type splitRequestsKey struct{}

// Run runs the tasks of a phase on s.Slots slots until each has one
// successful attempt. The first task to fail s.MaxAttempts times fails
// the phase with a *TaskError; the attempts still running are cancelled
// and waited for, so nothing runs when Run returns.
func (s *Scheduler) Run(ctx context.Context, p Phase) error {
	return s.run(ctx, phaseRun{Phase: p, slots: s.Slots, shared: s.Shared, speculative: s.Speculative, report: s.OnProgress})
}

// Again runs task t once more until an attempt succeeds, one attempt after
// another in the calling goroutine, as Run would with one slot: the
// answer to a committed task whose output was lost, called from an
// attempt of a later phase. Its attempts are numbered on from the task's
// earlier ones, and no progress is reported; they run on the caller's
// slot, not on another of Shared (a caller holding the last one would wait
// for itself). If the task fails every
// attempt, the error is Fatal: the phase that needed its output cannot go
// on.
func (s *Scheduler) Again(ctx context.Context, phase string, t Task, attempt func(ctx context.Context, attempt int) error) error {
	err := s.run(ctx, phaseRun{slots: 1, Phase: Phase{Name: phase, Tasks: []Task{t},
		Attempt: func(ctx context.Context, _, a int) error { return attempt(ctx, a) }}})
	var te *TaskError
	if errors.As(err, &te) {
		return Fatal(err)
	}
	return err
}

// phaseRun is what one call of run schedules.
type phaseRun struct {
	Phase
	slots       int
	shared      *Slots // nil: only slots bounds the attempts
	speculative bool
	report      func(Progress) // nil: no progress
}

// task is the scheduler's state of one task of a phase.
type task struct {
	Task
	done       bool
	failures   int
	running    map[int]*attemptState // by attempt
	started    time.Time             // of its oldest running attempt
	speculated bool
	// splitting is set while Phase.Split splits it (no twin starts
	// then: it would read what the task gives up); held are the outcomes
	// of its attempts that ended meanwhile, settled once the split is;
	// unsplit is set once a split left it whole.
	splitting bool
	held      []outcome
	unsplit   bool
}

// attemptState is a running attempt: how to cancel it and, for a task
// that may be split, how to ask it to (Phase.Split).
type attemptState struct {
	cancel   context.CancelFunc
	requests chan chan<- []byte // nil: not to be asked
	returned chan struct{}      // closed when the attempt has returned
}

// splitOutcome is the end of a split of task i: what Phase.Split
// returned, or nothing (apply nil) when the task kept all its input.
type splitOutcome struct {
	i     int
	apply func(j int) (split, kept Task)
	err   error
}

type outcome struct {
	i, attempt int
	took       time.Duration
	err        error
}

// run schedules one phase: it launches attempts while slots are free,
// settles each attempt's outcome, takes the tasks that join, reports the
// running attempts' bytes, and, once every task is done or the phase has
// failed, cancels and waits for the attempts still running.
func (s *Scheduler) run(ctx context.Context, p phaseRun) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ph := s.newPhase(ctx, p)
	var tick <-chan time.Time
	if p.speculative {
		ticker := time.NewTicker(speculateInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	var liveTick <-chan time.Time
	if p.report != nil && s.LiveBytes != nil && ph.progress.TotalBytes > 0 {
		ticker := time.NewTicker(liveProgressInterval)
		defer ticker.Stop()
		liveTick = ticker.C
	}
	for ph.progress.Done < ph.progress.Total && ph.err == nil {
		ph.launchPending()
		select {
		case o := <-ph.outcomes:
			ph.settle(o)
		case join := <-p.Join:
			ph.join(join)
		case split := <-ph.splits:
			ph.settleSplit(split)
		case <-tick: // launchPending looks for a straggler
		case <-liveTick:
			ph.reportLive()
		case <-ctx.Done():
			ph.err = ctx.Err()
		}
	}
	cancel()
	for ; ph.inflight > 0; ph.inflight-- {
		o := <-ph.outcomes
		s.ended(ph.tasks[o.i], o, o.err != nil && ph.tasks[o.i].done)
	}
	if ph.splitting >= 0 {
		// Its attempts have ended, so Split returns; what it split off
		// is not run.
		<-ph.splits
		for _, o := range ph.tasks[ph.splitting].held {
			s.ended(ph.tasks[o.i], o, false)
		}
	}
	return ph.err
}

// phaseState is the state of one run: its tasks, those waiting for a slot, the
// attempts in flight, and its progress.
type phaseState struct {
	s   *Scheduler
	p   phaseRun
	ctx context.Context // the run's; cancelled when it ends

	tasks    []*task
	pending  []int        // tasks waiting for a slot, in order
	outcomes chan outcome // every launched attempt sends one
	slots    int          // attempts that may run at once
	inflight int          // attempts launched and not settled
	// durations are the committed attempts' run times, for finding
	// stragglers.
	durations []time.Duration
	// progress.Done and Total count the tasks committed and the phase's
	// tasks: the phase runs until they meet. Its bytes move with the
	// running tasks' heartbeats, not only when a task ends: committed is
	// the bytes of the tasks done, and
	// progress.Bytes adds what the running ones have read, never going
	// back (a retried attempt starts again from 0).
	progress  Progress
	committed int64
	err       error // what ends the phase early
	// splitting is the task that Phase.Split is splitting, or -1; splits
	// receives what it returned.
	splitting int
	splits    chan splitOutcome
}

func (s *Scheduler) newPhase(ctx context.Context, p phaseRun) *phaseState {
	n := len(p.Tasks)
	ph := &phaseState{s: s, p: p, ctx: ctx, tasks: make([]*task, n), pending: make([]int, n),
		outcomes: make(chan outcome), slots: max(p.slots, 1),
		progress: Progress{Phase: p.Name, Total: n}, splitting: -1, splits: make(chan splitOutcome, 1)}
	for i, t := range p.Tasks {
		ph.tasks[i] = &task{Task: t, running: map[int]*attemptState{}}
		ph.pending[i] = i
		ph.progress.TotalBytes += t.Bytes
	}
	ph.report()
	return ph
}

func (ph *phaseState) report() {
	if ph.p.report != nil {
		ph.p.report(ph.progress)
	}
}

// launchPending fills the free slots with pending tasks and, when none is
// pending and speculation is on, with a backup attempt of a straggler.
func (ph *phaseState) launchPending() {
	for ph.inflight < ph.slots && len(ph.pending) > 0 {
		ph.launch(ph.pending[0])
		ph.pending = ph.pending[1:]
	}
	if ph.p.Split != nil && ph.inflight < ph.slots && len(ph.pending) == 0 && ph.splitting < 0 {
		if i := ph.splitCandidate(); i >= 0 {
			ph.startSplit(i)
		}
	}
	if ph.p.speculative && ph.inflight < ph.slots && len(ph.pending) == 0 {
		if i := ph.s.straggler(ph.tasks, ph.durations); i >= 0 {
			ph.tasks[i].speculated = true
			ph.s.log("starting a speculative attempt", "task", ph.tasks[i].ID)
			ph.launch(i)
		}
	}
}

// launch starts a new attempt of task i in its own goroutine, which sends
// its outcome when it ends.
func (ph *phaseState) launch(i int) {
	t := ph.tasks[i]
	a := ph.s.nextAttempt(t.ID)
	if ph.s.OnStart != nil {
		ph.s.OnStart(ph.p.Name, t.Task, a)
	}
	actx, acancel := context.WithCancel(ph.ctx)
	if len(t.running) == 0 {
		t.started = time.Now()
	}
	at := &attemptState{cancel: acancel, returned: make(chan struct{})}
	if ph.p.Split != nil && t.Splittable {
		at.requests = make(chan chan<- []byte)
		actx = context.WithValue(actx, splitRequestsKey{}, at.requests)
	}
	t.running[a] = at
	ph.inflight++
	shared, attempt, outcomes := ph.p.shared, ph.p.Attempt, ph.outcomes
	go func() {
		if shared != nil {
			if err := shared.acquire(actx); err != nil {
				close(at.returned)
				outcomes <- outcome{i, a, 0, err}
				return
			}
		}
		start := time.Now()
		err := attempt(actx, i, a)
		took := time.Since(start)
		close(at.returned)
		if shared != nil {
			shared.release()
		}
		outcomes <- outcome{i, a, took, err}
	}()
}

// settle takes the outcome of an attempt: a task done (its other attempts
// cancelled), an attempt that lost the race to its twin, a failure to
// retry, or the error that ends the phase. The outcome of a task being
// split waits for the split (settleSplit).
func (ph *phaseState) settle(o outcome) {
	ph.inflight--
	t := ph.tasks[o.i]
	delete(t.running, o.attempt)
	if t.splitting {
		t.held = append(t.held, o)
		return
	}
	ph.resolve(o)
}

// resolve is settle for an attempt no longer counted as running.
func (ph *phaseState) resolve(o outcome) {
	t := ph.tasks[o.i]
	lost := t.done && o.err != nil
	ph.s.ended(t, o, lost)
	var f fatal
	switch {
	case lost:
	case o.err == nil:
		if t.done {
			return // its twin committed first and was counted
		}
		t.done = true
		ph.durations = append(ph.durations, o.took)
		ph.progress.Done++
		ph.committed += t.Bytes
		ph.progress.Bytes = max(ph.progress.Bytes, ph.committed)
		ph.report()
		for _, at := range t.running {
			at.cancel()
		}
	case ph.ctx.Err() != nil:
		ph.err = ph.ctx.Err()
	case errors.As(o.err, &f):
		ph.err = f.error
	default:
		t.failures++
		if t.failures >= ph.s.MaxAttempts {
			ph.err = &TaskError{Job: ph.s.Job, Task: t.ID, Input: t.Input, Attempts: t.failures, Err: o.err}
		} else if len(t.running) == 0 {
			ph.pending = append(ph.pending, o.i)
		}
	}
}

// join adds the task a Join sender offers, if it says so.
func (ph *phaseState) join(offer func(i int) (Task, bool)) {
	t, ok := offer(len(ph.tasks))
	if !ok {
		return
	}
	ph.tasks = append(ph.tasks, &task{Task: t, running: map[int]*attemptState{}})
	ph.pending = append(ph.pending, len(ph.tasks)-1)
	ph.progress.Total++
}

// splitCandidate returns the running task to split, or -1: of those
// running one attempt, not a speculative one's twin and not left whole by
// an earlier split, the one with the most input left (its Work less the
// share of its Bytes read, or all of it if it has no Bytes), if at least
// SplitAbove.
func (ph *phaseState) splitCandidate() int {
	best, most := -1, ph.p.SplitAbove-1
	for i, t := range ph.tasks {
		if t.done || !t.Splittable || len(t.running) != 1 || t.speculated || t.unsplit {
			continue
		}
		left := t.Work
		if ph.s.LiveBytes != nil && t.Bytes > 0 {
			left -= int64(float64(t.Work) * float64(ph.s.LiveBytes(t.Task)) / float64(t.Bytes))
		}
		if left > most {
			best, most = i, left
		}
	}
	return best
}

// startSplit asks the running attempt of task i to give up part of its
// input, in a goroutine that waits for the answer, passes it to
// Phase.Split, and hands the outcome to the scheduler's loop.
func (ph *phaseState) startSplit(i int) {
	t := ph.tasks[i]
	ph.splitting, t.splitting = i, true
	// A task is split only while it runs one attempt (splitCandidate).
	var at *attemptState
	for _, a := range t.running {
		at = a
	}
	split, ctx, splits := ph.p.Split, ph.ctx, ph.splits
	go func() {
		so := splitOutcome{i: i}
		reply := make(chan []byte, 1)
		select {
		case at.requests <- reply:
			if gave := <-reply; gave != nil {
				so.apply, so.err = split(i, gave)
			}
		case <-at.returned: // it kept all
		case <-ctx.Done():
		}
		splits <- so
	}()
}

// settleSplit takes what Split returned: the new task joins the phase and
// task i is what it kept, or task i is left whole; then the outcomes of
// task i held meanwhile are settled.
func (ph *phaseState) settleSplit(so splitOutcome) {
	t := ph.tasks[so.i]
	ph.splitting, t.splitting = -1, false
	held := t.held
	t.held = nil
	switch {
	case so.err != nil:
		for _, o := range held {
			ph.s.ended(t, o, false)
		}
		ph.err = so.err
		return
	case so.apply == nil:
		t.unsplit = true
	default:
		split, kept := so.apply(len(ph.tasks))
		t.Task = kept
		ph.tasks = append(ph.tasks, &task{Task: split, running: map[int]*attemptState{}})
		ph.pending = append(ph.pending, len(ph.tasks)-1)
		ph.progress.Total++
		ph.s.log("split a running task", "task", t.ID, "new", split.ID, "input", split.Input)
	}
	for _, o := range held {
		ph.resolve(o)
	}
}

// reportLive reports the bytes read so far by the committed tasks and
// the running attempts (LiveBytes), if they moved on.
func (ph *phaseState) reportLive() {
	live := ph.committed
	for _, t := range ph.tasks {
		if !t.done && len(t.running) > 0 {
			live += ph.s.LiveBytes(t.Task)
		}
	}
	if live > ph.progress.Bytes {
		ph.progress.Bytes = live
		ph.report()
	}
}

// straggler returns a task to back up with a speculative attempt, or -1:
// one with a single attempt running for longer than twice the median
// committed attempt and than SpeculativeAfter.
func (s *Scheduler) straggler(tasks []*task, durations []time.Duration) int {
	if len(durations) == 0 {
		return -1
	}
	sorted := slices.Sorted(slices.Values(durations))
	threshold := max(2*sorted[len(sorted)/2], s.SpeculativeAfter)
	for i, t := range tasks {
		if !t.done && !t.speculated && !t.splitting && len(t.running) == 1 && time.Since(t.started) > threshold {
			return i
		}
	}
	return -1
}

// nextAttempt numbers a new attempt of a task: 1 for its first, counting
// on over every phase and remake of the job.
func (s *Scheduler) nextAttempt(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempts == nil {
		s.attempts = map[string]int{}
	}
	s.attempts[id]++
	return s.attempts[id]
}

func (s *Scheduler) ended(t *task, o outcome, killed bool) {
	if s.OnEnd != nil {
		s.OnEnd(t.Task, o.attempt, o.took, o.err, killed)
	}
}

func (s *Scheduler) log(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Info(msg, args...)
	}
}
