package pipeline

import (
	"maps"
	"slices"
	"time"

	"github.com/quern-dev/quern/exec"
	jobdriver "github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/mapreduce"
)

// The pipeline's status, as the status page (package webui, `quern run
// --ui`) shows it and _job.json keeps it: a mapreduce.JobStatus whose
// phases are the stages, whose tasks are every stage's task attempts (Phase:
// the stage's name), and whose Stages say each stage's state, rounds,
// progress, timings and counters.

// Stage states, besides mapreduce's running, succeeded and failed.
const (
	stageWaiting = "waiting"
	stageReused  = "reused"
	stageNotRun  = "not run"
)

// status returns a snapshot of the pipeline. Safe from any goroutine; it
// is Config.OnStart's status function.
func (d *driver) status() mapreduce.JobStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	end := d.ended
	if end.IsZero() {
		end = time.Now()
	}
	st := mapreduce.JobStatus{
		Job: d.p.Name, Engine: d.cfg.Engine, Output: d.cfg.Output, Origin: d.origin, State: d.jobState, Error: d.errText,
		Started: d.started, ElapsedMS: ms(end.Sub(d.started)), Workers: d.cfg.Workers,
		Counters: maps.Clone(d.counters), Warnings: slices.Clone(d.warnings),
	}
	for i, s := range d.p.stages {
		rep, state := d.stages[i], d.stageState[i]
		if state == stageWaiting && d.jobState == mapreduce.JobFailed {
			state = stageNotRun
		}
		elapsed := rep.Elapsed
		if state == mapreduce.JobRunning {
			elapsed = end.Sub(d.started) - rep.Start
		}
		ss := mapreduce.StageStatus{Name: rep.Name, Kind: rep.Kind, Loop: rep.Loop, State: state, Rounds: rep.Rounds,
			Tasks: rep.Tasks, Done: d.done[i], Total: d.stageTotal(s), Reads: rep.Reads, StartMS: ms(rep.Start),
			ElapsedMS: ms(elapsed), Counters: maps.Clone(rep.Counters), Reused: rep.Reused}
		st.Stages = append(st.Stages, ss)
		read := d.readBytes[s.name]
		phase := mapreduce.PhaseStatus{Name: s.name, Done: ss.Done, Total: ss.Total, StartMS: ss.StartMS,
			Bytes: read[0], TotalBytes: read[1]}
		if state == mapreduce.JobSucceeded {
			phase.EndMS = ss.StartMS + ss.ElapsedMS
		}
		st.Phases = append(st.Phases, phase)
	}
	for _, t := range d.taskOrder {
		st.Tasks = append(st.Tasks, d.reports[t].Status(d.started, end))
	}
	return st
}

// stageTotal is the number of tasks stage s runs over all its rounds (a
// loop's stage is one bar over its rounds); d.mu is held.
func (d *driver) stageTotal(s *stage) int {
	total := d.cfg.Reducers
	if s.kind == readStage {
		total = d.readTasks(s)
	}
	if s.loop != nil {
		total *= max(d.rounds[s.loop], 1)
	}
	if s.state != nil {
		total *= d.stateRounds[s] + 2
	}
	return total
}

// setStageState sets the state of stage s.
func (d *driver) setStageState(s *stage, state string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stageState[s.index] = state
}

// attemptStarted opens the report of a task attempt (the scheduler's
// OnStart); the phase is the stage's name.
func (d *driver) attemptStarted(stage string, t sched.Task, attempt int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.reports[t.ID]
	if r == nil {
		r = &mapreduce.TaskReport{ID: t.ID, Phase: stage, Input: t.Input}
		d.reports[t.ID] = r
		d.taskOrder = append(d.taskOrder, t.ID)
	}
	r.Attempts = append(r.Attempts, mapreduce.AttemptReport{Attempt: attempt, State: mapreduce.AttemptRunning, Start: time.Now()})
}

// stageBytes keeps a read stage's bytes read and reports its progress
// (the scheduler's OnProgress, at the phase's start, at each commit and as
// the bytes move). The other stages are reported as their tasks commit
// (progress): a loop's stage counts its tasks over every round, where the
// scheduler counts one round's.
func (d *driver) stageBytes(p sched.Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.p.stages {
		if s.name == p.Phase && s.kind == readStage {
			d.readBytes[p.Phase] = [2]int64{p.Bytes, p.TotalBytes}
			d.reportProgress(s)
		}
	}
}

// liveBytes is how many of a running read task's bytes its attempts have
// read, from their heartbeats (the scheduler's LiveBytes).
func (d *driver) liveBytes(t sched.Task) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reports[t.ID].LiveBytes(t.Bytes)
}

// attemptEnded records how an attempt ended (the scheduler's OnEnd), with
// its worker's log, as a job's attempts are (jobdriver.EndOf).
func (d *driver) attemptEnded(t sched.Task, attempt int, took time.Duration, err error, lostRace bool) {
	e := jobdriver.EndOf(d.workDir.Path, t.ID, attempt, took, err, lostRace)
	if e.State == mapreduce.AttemptFailed && !sched.IsFatal(err) {
		// A fatal error (a refused input) ends the pipeline with this
		// same text, as a job's does (jobdriver's finishAttempt).
		d.cfg.Logger.Warn("pipeline task attempt failed", "pipeline", d.p.Name, "task", t.ID, "attempt", attempt, "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.attempt(t.ID, attempt); a != nil {
		a.End(e)
	}
}

// heartbeat records a running attempt's worker, progress and peak memory
// (the worker pool's OnStatus).
func (d *driver) heartbeat(s exec.Status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.attempt(s.TaskID, s.Attempt); a != nil {
		a.Heartbeat(s)
	}
}

// attemptSucceeded keeps a succeeded attempt's counters and its worker's
// peak memory for its report; d.mu is held.
func (d *driver) attemptSucceeded(id string, attempt int, res taskResult) {
	if a := d.attempt(id, attempt); a != nil {
		a.Counters = maps.Clone(res.Counters)
		a.PeakRSS = max(a.PeakRSS, res.PeakRSS)
	}
}

// keepFailedLogs keeps the logs of failed attempts in the output
// directory, as a job does (jobdriver.KeepFailedLogs).
func (d *driver) keepFailedLogs() {
	d.mu.Lock()
	defer d.mu.Unlock()
	jobdriver.KeepFailedLogs(d.out.Path(), maps.Values(d.reports), d.cfg.Logger)
}

// attempt returns the report of a started attempt; d.mu is held.
func (d *driver) attempt(id string, attempt int) *mapreduce.AttemptReport {
	r := d.reports[id]
	if r == nil {
		return nil
	}
	for i := range r.Attempts {
		if r.Attempts[i].Attempt == attempt {
			return &r.Attempts[i]
		}
	}
	return nil
}

// pipelineEnded sets the pipeline's final state for the status.
func (d *driver) pipelineEnded(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ended.IsZero() {
		return
	}
	d.ended, d.jobState = time.Now(), mapreduce.JobSucceeded
	if err != nil {
		d.jobState, d.errText = mapreduce.JobFailed, err.Error()
	}
}
