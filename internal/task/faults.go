package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quern-dev/quern/exec"
)

// Fault injection, for tests of what Quern survives.
//
// The environment variable QUERN_FAULTS holds a list of faults separated by
// semicolons; worker processes inherit it from the driver. Each fault is
//
//	TASK/ATTEMPT@POINT[:N]=ACTION
//
// TASK is a task name or a path.Match pattern ("map-00003", "reduce-*");
// ATTEMPT is the attempt number it strikes (0: every attempt); POINT is where
// in the task it strikes, N-th time the task reaches that point (default 1):
//
//	map-start    a map task begins
//	record       before the N-th input record's Map call
//	spill        before the N-th run is written
//	map-done     after every run is written, before the task reports
//	reduce-start a reduce task begins
//	group        before the N-th group's Reduce call
//	commit       after the part file is written, before the task reports
//	worker-exit  a worker process is about to exit, after the driver let it
//	             go (TASK is "worker", ATTEMPT 0)
//
// ACTION is what happens: exit (os.Exit(3)), kill (SIGKILL to itself),
// hang (block until killed, ignoring cancellation), panic, error, or, at
// map-done only, corrupt (flip one byte in the middle of the first run) and
// delete (remove the first run), which a reducer later finds; at record
// only, await-split (wait until the driver asks the task to give up part
// of its input, which it answers at its next check; or until the task is
// cancelled, or for a minute at most). await-split:DURATION waits for at
// most DURATION (a time.ParseDuration string): a test that the driver
// does not ask waits that long, not a minute.
//
// Faults strike only in worker processes of the local engine, never in a
// driver or the inline engine, so a typo in a test cannot kill the test.
//
//	QUERN_FAULTS='map-00001/1@record:500=kill;reduce-00000/1@commit=exit'
const faultsEnv = "QUERN_FAULTS"

type fault struct {
	task    string
	attempt int
	point   string
	nth     int
	action  string
	wait    time.Duration // await-split's bound
}

var faultPoints = map[string]bool{
	"map-start": true, "record": true, "spill": true, "map-done": true,
	"reduce-start": true, "group": true, "commit": true, "worker-exit": true,
}

var faultActions = map[string]bool{
	"exit": true, "kill": true, "hang": true, "panic": true, "error": true, "corrupt": true, "delete": true,
	"await-split": true,
}

// ParseFaults parses a QUERN_FAULTS value; it is exported so that tests and
// tools can check a plan before they set it.
func ParseFaults(s string) error {
	_, err := parseFaults(s)
	return err
}

func parseFaults(s string) ([]fault, error) {
	var out []fault
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s: fault %q: %s", faultsEnv, item, why) }
		lhs, action, ok := strings.Cut(item, "=")
		action, waitS, hasWait := strings.Cut(action, ":")
		if !ok || !faultActions[action] {
			return nil, bad("want TASK/ATTEMPT@POINT[:N]=ACTION with ACTION exit, kill, hang, panic, error, corrupt, delete or await-split")
		}
		taskAttempt, pointN, ok := strings.Cut(lhs, "@")
		if !ok {
			return nil, bad("missing @POINT")
		}
		task, attemptS, ok := strings.Cut(taskAttempt, "/")
		if !ok {
			return nil, bad("missing /ATTEMPT")
		}
		attempt, err := strconv.Atoi(attemptS)
		if err != nil || attempt < 0 {
			return nil, bad("attempt must be a number >= 0")
		}
		if _, err := path.Match(task, ""); err != nil {
			return nil, bad("bad task pattern")
		}
		point, nS, hasN := strings.Cut(pointN, ":")
		if !faultPoints[point] {
			return nil, bad("unknown point " + point)
		}
		nth := 1
		if hasN {
			if nth, err = strconv.Atoi(nS); err != nil || nth < 1 {
				return nil, bad("N must be a number >= 1")
			}
		}
		if (action == "corrupt" || action == "delete") && point != "map-done" {
			return nil, bad(action + " only works at map-done")
		}
		if action == "await-split" && point != "record" {
			return nil, bad(action + " only works at record")
		}
		wait := time.Minute
		if hasWait {
			if wait, err = time.ParseDuration(waitS); err != nil || wait <= 0 || action != "await-split" {
				return nil, bad("only await-split takes a :DURATION, a positive one such as 2s")
			}
		}
		out = append(out, fault{task, attempt, point, nth, action, wait})
	}
	return out, nil
}

var workerFaults = sync.OnceValues(func() ([]fault, error) {
	if !exec.IsWorker() {
		return nil, nil
	}
	return parseFaults(os.Getenv(faultsEnv))
})

// faultSite counts how often one task attempt reaches each point and
// strikes when a fault names that occurrence.
type faultSite struct {
	faults  []fault
	task    string
	attempt int
	seen    map[string]int
	runs    *[]RunFile      // map tasks: for corrupt and delete
	ctx     context.Context // map tasks: for await-split
}

func newFaultSite(task string, attempt int) (*faultSite, error) {
	all, err := workerFaults()
	if err != nil {
		return nil, err
	}
	var mine []fault
	for _, f := range all {
		if ok, _ := path.Match(f.task, task); ok && (f.attempt == 0 || f.attempt == attempt) {
			mine = append(mine, f)
		}
	}
	if len(mine) == 0 {
		return nil, nil // the common case: every hit is a nil check
	}
	return &faultSite{faults: mine, task: task, attempt: attempt, seen: map[string]int{}}, nil
}

var errInjected = errors.New("mapreduce: injected fault")

// hit is called at a fault point; it returns an error for the error action
// and does not return for exit, kill and hang.
func (s *faultSite) hit(point string) error {
	if s == nil {
		return nil
	}
	s.seen[point]++
	for _, f := range s.faults {
		if f.point != point || f.nth != s.seen[point] {
			continue
		}
		fmt.Fprintf(os.Stderr, "quern: injecting %s at %s:%d of %s attempt %d (pid %d)\n",
			f.action, point, f.nth, s.task, s.attempt, os.Getpid())
		switch f.action {
		case "exit":
			os.Exit(3)
		case "kill":
			self, _ := os.FindProcess(os.Getpid())
			self.Kill() // SIGKILL on Unix, TerminateProcess on Windows
			time.Sleep(time.Hour)
		case "hang":
			select {}
		case "panic":
			panic(fmt.Sprintf("injected panic at %s:%d", point, f.nth))
		case "error":
			return fmt.Errorf("%w at %s:%d", errInjected, point, f.nth)
		case "await-split":
			// Bounded, so that a test whose task is never asked fails
			// on what it checks instead of hanging.
			for end := time.Now().Add(f.wait); s.ctx != nil && s.ctx.Err() == nil && exec.SplitAsked(s.ctx) == nil && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
		case "corrupt", "delete":
			if s.runs == nil || len(*s.runs) == 0 {
				continue
			}
			run := (*s.runs)[0].Path
			if f.action == "delete" {
				return os.Remove(run)
			}
			if err := flipMiddleByte(run); err != nil {
				return err
			}
		}
	}
	return nil
}

func flipMiddleByte(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	b := make([]byte, 1)
	off := st.Size() / 2
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0x40
	_, err = f.WriteAt(b, off)
	return err
}

// setRuns lets corrupt and delete find the runs a map task has written,
// and await-split the task's requests.
func (s *faultSite) setRuns(ctx context.Context, runs *[]RunFile) {
	if s != nil {
		s.ctx, s.runs = ctx, runs
	}
}

// WorkerExit strikes a worker-exit fault, if one is set: Main calls it when
// the driver has let the worker go and it is about to exit.
func WorkerExit() {
	if site, err := newFaultSite("worker", 0); err == nil {
		site.hit("worker-exit")
	}
}
