package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/quern-dev/quern/mapreduce"
)

// The scheduler of stages.
//
// A pipeline's stages form a graph: a stage depends on the stages that make
// the collections it reads. The scheduler starts each unit (a stage outside
// any loop, or a whole loop, whose rounds run in order) as soon as every
// unit it depends on has committed, so that independent stages (a join's
// two sides, read from different files) run side by side. Their tasks share
// the runner's slots (sched.Scheduler.Shared): two stages of 3 tasks on 2 workers run
// 2 tasks at a time in all, not 4.
//
// A unit that fails cancels the units running beside it, and the units that
// depend on it never start: the pipeline's error is the first stage's
// failure, naming its dependants (StageError).

// unit is what the scheduler starts as one.
type unit struct {
	name   string
	stages []*stage // one, or a loop's body in order
	loop   *loop
	deps   []*unit
	// fp is the unit's fingerprint (resume.go), reuse whether Resume
	// found its committed output.
	fp    string
	reuse *manifest
	// resumeLoop is a loop's checkpoint from which Resume goes on, when
	// the loop is not reused whole.
	resumeLoop *loopCheckpoint
	done       chan struct{}
	err        error // set before done is closed
}

// units cuts the pipeline into units, in the order their stages were added
// (which is an order of their dependencies: a stage reads collections made
// before it).
func (p *Pipeline) units() []*unit {
	byStage := map[*stage]*unit{}
	var units []*unit
	for _, s := range p.stages {
		if byStage[s] != nil {
			continue
		}
		u := &unit{name: s.name, stages: []*stage{s}, done: make(chan struct{})}
		if s.loop != nil {
			u.name, u.stages, u.loop = "loop "+s.loop.name, s.loop.stages, s.loop
		}
		for _, us := range u.stages {
			byStage[us] = u
		}
		units = append(units, u)
	}
	for _, u := range units {
		seen := map[*unit]bool{u: true}
		for _, s := range u.stages {
			for _, in := range s.inputs {
				producer := in.producer
				if in.loopVar != nil {
					producer = in.loopVar.init.producer
				}
				if dep := byStage[producer]; dep != nil && !seen[dep] {
					seen[dep] = true
					u.deps = append(u.deps, dep)
				}
			}
		}
	}
	return units
}

// errDependencyFailed ends a unit whose dependency failed; it never
// reaches the caller, which gets the dependency's error.
var errDependencyFailed = errors.New("a stage it depends on failed")

// runStages runs every unit once its dependencies have committed and
// returns the first failure.
func (d *driver) runStages(ctx context.Context) error {
	d.counters = mapreduce.Counters{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, u := range d.units {
		wg.Go(func() {
			defer close(u.done)
			for _, dep := range u.deps {
				<-dep.done
				if dep.err != nil {
					u.err = errDependencyFailed
					return
				}
			}
			if u.err = ctx.Err(); u.err != nil {
				return
			}
			if u.err = d.runUnit(ctx, u); u.err == nil {
				return
			}
			mu.Lock()
			// A unit cancelled because another failed reports that
			// cancellation; the failure that caused it came first.
			if first == nil {
				first = u.err
			}
			mu.Unlock()
			cancel()
		})
	}
	wg.Wait()
	return first
}

// runUnit runs one unit (or takes its output from an earlier run), then
// removes the runs that no stage still has to read.
func (d *driver) runUnit(ctx context.Context, u *unit) (err error) {
	defer func() {
		for _, s := range u.stages {
			switch {
			case err == nil && u.reuse != nil:
				d.setStageState(s, stageReused)
			case err == nil:
				d.setStageState(s, mapreduce.JobSucceeded)
			default:
				d.setStageState(s, mapreduce.JobFailed)
			}
		}
	}()
	switch {
	case u.reuse != nil:
		d.reused(u)
	case u.loop != nil:
		if err := d.runLoop(ctx, u); err != nil {
			return err
		}
	case u.stages[0].state != nil:
		if err := d.runStateStage(ctx, u); err != nil {
			return err
		}
	default:
		if err := d.runStage(ctx, u.stages[0], 0); err != nil {
			return err
		}
	}
	if u.reuse == nil {
		if err := d.saveManifest(u); err != nil {
			return &StageError{Pipeline: d.p.Name, Stage: u.stages[0].name, Err: fmt.Errorf("save its manifest: %w", err)}
		}
	}
	for _, s := range u.stages {
		d.consumed(s)
	}
	return nil
}
