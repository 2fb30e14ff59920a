package sched

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// journal records what the hooks heard, safe from any goroutine.
type journal struct {
	mu       sync.Mutex
	events   []string
	progress []Progress
}

func (j *journal) add(format string, a ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, fmt.Sprintf(format, a...))
}

func (j *journal) snapshot() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

func newScheduler(slots, maxAttempts int, j *journal) *Scheduler {
	return &Scheduler{
		Job: "test", Slots: slots, MaxAttempts: maxAttempts,
		OnStart: func(phase string, t Task, a int) { j.add("start %s %s#%d", phase, t.ID, a) },
		OnEnd: func(t Task, a int, _ time.Duration, err error, killed bool) {
			switch {
			case killed:
				j.add("killed %s#%d", t.ID, a)
			case err != nil:
				j.add("failed %s#%d", t.ID, a)
			default:
				j.add("ok %s#%d", t.ID, a)
			}
		},
		OnProgress: func(p Progress) {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.progress = append(j.progress, p)
		},
	}
}

func tasksOf(n int) []Task {
	ts := make([]Task, n)
	for i := range ts {
		ts[i] = Task{ID: fmt.Sprintf("t%d", i), Input: fmt.Sprintf("input %d", i), Bytes: 10}
	}
	return ts
}

// A failed attempt is retried until it succeeds; every task runs, the
// slots are never exceeded, and progress counts tasks and bytes.
func TestRunRetries(t *testing.T) {
	var j journal
	s := newScheduler(2, 3, &j)
	var mu sync.Mutex
	running, most := 0, 0
	err := s.Run(context.Background(), Phase{Name: "map", Tasks: tasksOf(5), Attempt: func(ctx context.Context, i, attempt int) error {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		if i == 3 && attempt < 3 {
			return errors.New("flaky")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if most > 2 {
		t.Errorf("%d attempts ran at once on 2 slots", most)
	}
	ev := j.snapshot()
	for _, want := range []string{"failed t3#1", "failed t3#2", "ok t3#3", "ok t0#1", "ok t4#1"} {
		if !slices.Contains(ev, want) {
			t.Errorf("no %q in %q", want, ev)
		}
	}
	last := j.progress[len(j.progress)-1]
	if want := (Progress{Phase: "map", Done: 5, Total: 5, Bytes: 50, TotalBytes: 50}); last != want {
		t.Errorf("last progress %+v, want %+v", last, want)
	}
	if first := j.progress[0]; first.Done != 0 || first.Total != 5 {
		t.Errorf("first progress %+v, want 0 of 5", first)
	}
}

// A task that fails every attempt fails the phase with a TaskError that
// names it and carries the last error; other attempts are cancelled, and
// none runs after Run returns.
func TestRunTaskFailsEveryAttempt(t *testing.T) {
	var j journal
	s := newScheduler(3, 2, &j) // a slot each: the others hold theirs until cancelled
	boom := errors.New("boom")
	var live sync.WaitGroup
	err := s.Run(context.Background(), Phase{Name: "reduce", Tasks: tasksOf(3), Attempt: func(ctx context.Context, i, attempt int) error {
		live.Add(1)
		defer live.Done()
		if i == 1 {
			return fmt.Errorf("attempt %d: %w", attempt, boom)
		}
		<-ctx.Done() // the others run until cancelled
		return ctx.Err()
	}})
	var te *TaskError
	if !errors.As(err, &te) || te.Task != "t1" || te.Input != "input 1" || te.Attempts != 2 || te.Job != "test" || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want a TaskError of t1 after 2 attempts wrapping boom", err)
	}
	live.Wait() // would hang if Run returned with attempts running
	if ev := j.snapshot(); slices.Contains(ev, "start reduce t1#3") {
		t.Errorf("a third attempt of t1 started: %q", ev)
	}
}

// A Fatal error fails the phase at the first attempt.
func TestRunFatal(t *testing.T) {
	var j journal
	s := newScheduler(1, 5, &j)
	lost := errors.New("lost")
	err := s.Run(context.Background(), Phase{Name: "reduce", Tasks: tasksOf(1), Attempt: func(context.Context, int, int) error {
		return Fatal(lost)
	}})
	if !errors.Is(err, lost) {
		t.Fatalf("err = %v, want %v", err, lost)
	}
	var f fatal
	if errors.As(err, &f) {
		t.Errorf("Run returned the Fatal wrapper itself: %#v", err)
	}
	if ev := j.snapshot(); len(ev) != 2 {
		t.Errorf("events %q, want one attempt started and failed", ev)
	}
}

// Again runs a task one attempt after another, numbering on from its
// earlier attempts, reports no progress, and makes its failure Fatal.
func TestAgain(t *testing.T) {
	var j journal
	s := newScheduler(2, 2, &j)
	ts := tasksOf(1)
	if err := s.Run(context.Background(), Phase{Name: "map", Tasks: ts, Attempt: func(context.Context, int, int) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	progressBefore := len(j.progress)
	var attempts []int
	err := s.Again(context.Background(), "map", ts[0], func(_ context.Context, a int) error {
		attempts = append(attempts, a)
		return nil
	})
	if err != nil || !slices.Equal(attempts, []int{2}) {
		t.Fatalf("Again: err %v, attempts %v; want nil, [2]", err, attempts)
	}
	if len(j.progress) != progressBefore {
		t.Errorf("Again reported progress: %+v", j.progress[progressBefore:])
	}
	attempts = nil
	err = s.Again(context.Background(), "map", ts[0], func(_ context.Context, a int) error {
		attempts = append(attempts, a)
		return errors.New("disk gone")
	})
	var f fatal
	var te *TaskError
	if !errors.As(err, &f) || !errors.As(err, &te) || te.Attempts != 2 {
		t.Fatalf("err = %#v, want Fatal(TaskError after 2 attempts)", err)
	}
	if !slices.Equal(attempts, []int{3, 4}) {
		t.Errorf("attempts %v, want [3 4]", attempts)
	}
	// A phase whose attempt met it fails at once with the TaskError.
	again := err
	err = s.Run(context.Background(), Phase{Name: "reduce", Tasks: []Task{{ID: "r0"}}, Attempt: func(context.Context, int, int) error { return again }})
	if !errors.As(err, &te) || errors.As(err, &f) {
		t.Errorf("phase error %#v, want the TaskError", err)
	}
}

// With Speculative, an idle slot backs up a straggler; the backup commits
// first, and the straggler is cancelled and reported killed.
func TestSpeculativeBackup(t *testing.T) {
	var j journal
	s := newScheduler(2, 1, &j)
	s.Speculative = true
	released := make(chan struct{})
	err := s.Run(context.Background(), Phase{Name: "map", Tasks: tasksOf(2), Attempt: func(ctx context.Context, i, attempt int) error {
		switch {
		case i == 0:
			return nil // the median: a task that ends at once
		case attempt == 1:
			// The straggler: runs until cancelled, which only the
			// backup's commit does.
			<-ctx.Done()
			close(released)
			return ctx.Err()
		}
		return nil // the backup
	}})
	if err != nil {
		t.Fatal(err)
	}
	<-released
	ev := j.snapshot()
	for _, want := range []string{"start map t1#2", "ok t1#2", "killed t1#1"} {
		if !slices.Contains(ev, want) {
			t.Errorf("no %q in %q", want, ev)
		}
	}
}

// A cancelled context ends the phase with its error once the running
// attempts have returned.
func TestRunCancelled(t *testing.T) {
	var j journal
	s := newScheduler(2, 3, &j)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 2)
	done := make(chan error)
	go func() {
		done <- s.Run(ctx, Phase{Name: "map", Tasks: tasksOf(4), Attempt: func(ctx context.Context, _, _ int) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}})
	}()
	<-started
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ev := j.snapshot(); slices.Contains(ev, "start map t2#1") {
		t.Errorf("a pending task started after the cancel: %q", ev)
	}
}

// LiveBytes moves a phase's bytes while its tasks run, never backwards.
func TestLiveBytes(t *testing.T) {
	var j journal
	s := newScheduler(1, 1, &j)
	read := make(chan int64, 1)
	read <- 0
	s.LiveBytes = func(Task) int64 { v := <-read; read <- v; return v }
	moved := make(chan struct{})
	s.OnProgress = func(p Progress) {
		j.mu.Lock()
		j.progress = append(j.progress, p)
		j.mu.Unlock()
		if p.Bytes == 7 && p.Done == 0 {
			close(moved)
		}
	}
	err := s.Run(context.Background(), Phase{Name: "map", Tasks: tasksOf(1), Attempt: func(ctx context.Context, _, _ int) error {
		<-read
		read <- 7 // the running attempt has read 7 of its 10 bytes
		<-moved   // the next heartbeat tick reports them
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(j.progress); i++ {
		if j.progress[i].Bytes < j.progress[i-1].Bytes {
			t.Errorf("bytes went back: %+v", j.progress)
		}
	}
	if last := j.progress[len(j.progress)-1]; last.Bytes != 10 {
		t.Errorf("last progress %+v, want 10 bytes", last)
	}
}

// Join adds tasks to a running phase: each joins as the next task, runs,
// and counts in the progress; one the caller declines does not.
func TestJoin(t *testing.T) {
	var j journal
	s := newScheduler(2, 1, &j)
	join := make(chan func(int) (Task, bool))
	var ran sync.Map
	err := s.Run(context.Background(), Phase{Name: "map", Tasks: tasksOf(1), Join: join,
		Attempt: func(ctx context.Context, i, _ int) error {
			ran.Store(i, true)
			if i != 0 {
				return nil
			}
			// Task 0 makes two tasks and offers one twice, as a
			// retried attempt would; the send returns once taken.
			for k, id := range []string{"c0", "c1", "c1"} {
				select {
				case join <- func(i int) (Task, bool) {
					return Task{ID: id, Bytes: 5}, k < 2 && i == k+1
				}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, ok := ran.Load(i); !ok {
			t.Errorf("task %d did not run", i)
		}
	}
	if _, ok := ran.Load(3); ok {
		t.Error("the declined task ran")
	}
	last := j.progress[len(j.progress)-1]
	if want := (Progress{Phase: "map", Done: 3, Total: 3, Bytes: 20, TotalBytes: 10}); last != want {
		t.Errorf("last progress %+v, want %+v", last, want)
	}
}

// Two schedulers that share 2 slots run at most 2 attempts at once in
// all, though each has 2 slots of its own; both finish every task.
func TestSharedSlots(t *testing.T) {
	shared := NewSlots(2)
	var mu sync.Mutex
	running, most, started := 0, 0, 0
	gate := make(chan struct{})
	attempt := func(ctx context.Context, i, a int) error {
		mu.Lock()
		running++
		started++
		most = max(most, running)
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for k := range 2 {
		s := &Scheduler{Job: fmt.Sprintf("stage%d", k), Slots: 2, MaxAttempts: 1, Shared: shared}
		wg.Go(func() {
			errs[k] = s.Run(context.Background(), Phase{Name: "run", Tasks: tasksOf(3), Attempt: attempt})
		})
	}
	// Wait until the shared slots are taken, then let every attempt end.
	for {
		mu.Lock()
		n := started
		mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Fatalf("scheduler %d: %v", k, err)
		}
	}
	if most > 2 {
		t.Errorf("%d attempts ran at once on 2 shared slots", most)
	}
	if started != 6 {
		t.Errorf("%d attempts started, want 6", started)
	}
}

// TestSplit: a slot left idle takes over half of a running task's input;
// an attempt of the task that fails just after it gave half up is retried
// on what the task kept, never on what it gave up, so every unit of input
// is committed once. A task that keeps its input whole is not asked again,
// and an answer the phase cannot take fails it.
func TestSplit(t *testing.T) {
	for range 20 { // the split and the failed attempt reach the loop in either order
		var mu sync.Mutex
		inputs := map[int][2]int{0: {0, 100}, 1: {100, 110}}
		var committed [][2]int
		var j journal
		s := newScheduler(2, 3, &j)
		asked := 0
		err := s.Run(context.Background(), Phase{Name: "map",
			Tasks: []Task{{ID: "t0", Bytes: 100, Splittable: true, Work: 100}, {ID: "t1", Bytes: 10}}, SplitAbove: 20,
			Attempt: func(ctx context.Context, i, attempt int) error {
				requests := SplitRequests(ctx)
				if (i == 1) != (requests == nil) {
					t.Errorf("task %d attempt %d: requests %v", i, attempt, requests)
				}
				mu.Lock()
				r := inputs[i]
				mu.Unlock()
				if i == 0 && attempt == 1 {
					reply := <-requests
					reply <- []byte("50")
					return errors.New("worker died")
				}
				mu.Lock()
				committed = append(committed, r)
				mu.Unlock()
				return nil
			},
			Split: func(i int, gave []byte) (func(int) (Task, Task), error) {
				if asked++; asked > 1 || i != 0 || string(gave) != "50" {
					t.Errorf("split %d of task %d: %q", asked, i, gave)
				}
				return func(n int) (Task, Task) {
					mu.Lock()
					defer mu.Unlock()
					inputs[0], inputs[n] = [2]int{0, 50}, [2]int{50, 100}
					return Task{ID: fmt.Sprintf("t%d", n), Bytes: 50, Splittable: true, Work: 50}, Task{ID: "t0", Bytes: 50, Splittable: true, Work: 50}
				}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(committed, func(a, b [2]int) int { return a[0] - b[0] })
		if want := [][2]int{{0, 50}, {50, 100}, {100, 110}}; !slices.Equal(committed, want) {
			t.Fatalf("committed %v, want %v; events %v", committed, want, j.snapshot())
		}
		last := j.progress[len(j.progress)-1]
		if last.Done != 3 || last.Total != 3 || last.Bytes != 110 || last.TotalBytes != 110 {
			t.Fatalf("last progress %+v", last)
		}
	}

	// Kept whole: asked once, then the phase ends as without splitting;
	// an answer the phase cannot take fails it.
	for _, bad := range []bool{false, true} {
		var j journal
		s := newScheduler(2, 1, &j)
		asked := 0
		err := s.Run(context.Background(), Phase{Name: "map",
			Tasks: []Task{{ID: "t0", Bytes: 100, Splittable: true, Work: 100}, {ID: "t1", Bytes: 10}}, SplitAbove: 20,
			Attempt: func(ctx context.Context, i, attempt int) error {
				if i == 0 {
					asked++
					reply := <-SplitRequests(ctx)
					if bad {
						reply <- []byte("?")
					} else {
						reply <- nil
					}
				}
				return nil
			},
			Split: func(i int, gave []byte) (func(int) (Task, Task), error) {
				return nil, fmt.Errorf("cannot take %q", gave)
			}})
		if bad {
			if err == nil || err.Error() != `cannot take "?"` {
				t.Fatalf("a bad answer: err %v", err)
			}
		} else if err != nil || asked != 1 {
			t.Fatalf("err %v, asked %d times", err, asked)
		}
	}
}
