package exec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Environment variables set by the pool for its children.
const (
	envWorker    = "QUERN_WORKER"       // "1" in a worker
	envHeartbeat = "QUERN_HEARTBEAT_MS" // heartbeat interval in milliseconds
	envDriverPid = "QUERN_DRIVER_PID"   // the driver's pid, for watchDriver
	envPipes     = "QUERN_PIPES"        // Windows: the control pipes' handles, "CTL,RES" in decimal
)

// forgetWorkerEnv removes the variables that make a process a worker from
// this one's environment, which the processes a handler starts inherit (a
// Streaming program, a shell): a program built on Quern, or quern itself,
// would otherwise take itself for a worker and fail on control pipes it
// does not have. The pipes are close-on-exec for the same reason.
func forgetWorkerEnv() {
	for _, name := range []string{envWorker, envHeartbeat, envDriverPid, envPipes} {
		os.Unsetenv(name)
	}
}

// shutdownGrace is how long Serve lets a running handler wind down after the
// driver went away or asked for shutdown, so its deferred cleanup (temporary
// files) can run before the process exits.
const shutdownGrace = time.Second

// orphanExit is how long after its driver's death a worker exits even if
// Serve's caller does not: shutdownGrace for the handler plus a margin.
const orphanExit = shutdownGrace + 200*time.Millisecond

// exitOrphaned is the exit status of a worker that outlived its driver.
const exitOrphaned = 3

// IsWorker reports whether this process was started by a Pool as a worker:
// QUERN_WORKER=1 is set and the control pipes are open (fd 3 and fd 4 on
// Unix, the handles named by QUERN_PIPES on Windows), or Serve has taken
// them (and removed the variables, see forgetWorkerEnv).
func IsWorker() bool {
	if serving.Load() {
		return true
	}
	if os.Getenv(envWorker) != "1" {
		return false
	}
	return havePipes()
}

// serving is set by Serve before it removes the worker's variables.
var serving atomic.Bool

// Progress reports the progress of the task whose context is ctx: done out of
// total units (bytes, records; total may be 0 when unknown). It is cheap (two
// atomic stores) and safe to call often from any goroutine of the handler;
// the worker sends the latest figures with its next heartbeat. A change in
// the figures counts as progress for PoolOptions.TaskTimeout. Outside a
// worker's handler it does nothing.
func Progress(ctx context.Context, done, total int64) {
	st, _ := ctx.Value(taskStateKey{}).(*taskState)
	if st == nil {
		return
	}
	st.done.Store(done)
	st.total.Store(total)
}

type taskStateKey struct{}

// SetStatus sets the status text of the task whose context is ctx (what it
// is doing, in a few words; a Streaming program's reporter:status line). The
// worker sends it with its next heartbeat; a change counts as progress for
// PoolOptions.TaskTimeout, as in Hadoop. Outside a worker's handler it does
// nothing.
func SetStatus(ctx context.Context, text string) {
	st, _ := ctx.Value(taskStateKey{}).(*taskState)
	if st == nil {
		return
	}
	st.status.Store(&text)
}

// SplitAsked returns a function to answer the driver with, if it has asked
// the task whose context is ctx to give up part of the work it has not done
// yet (Task.Split on the driver's side) and the task has not answered yet;
// nil otherwise, and outside a worker's handler. A task that can give up
// work polls it now and then, as cheaply as it checks ctx; one that never
// does gives up nothing, as the worker answers for it when it ends.
//
// The task must call answer once, from the goroutine that will return its
// result: answer(nil) keeps all the work; answer(gaveUp) tells the driver,
// before the result, that the task will not do the work gaveUp (a payload
// of the task's own making) describes, and the task must then not do it.
func SplitAsked(ctx context.Context) (answer func(gaveUp []byte)) {
	st, _ := ctx.Value(taskStateKey{}).(*taskState)
	if st == nil || st.asked.Load() == st.answered {
		return nil
	}
	return func(gaveUp []byte) {
		if st.answered < st.asked.Load() {
			st.answered++
			// An error means the driver is gone; the result's send
			// meets it too.
			_ = st.kept(gaveUp)
		}
	}
}

// taskState is the state of the running task that it shares with the
// worker's other goroutines: its progress, written by Progress and
// SetStatus and read by the heartbeat loop, and the split requests the
// read loop counts in and SplitAsked answers.
type taskState struct {
	done, total atomic.Int64
	status      atomic.Pointer[string]

	// asked counts the split frames received for the task; answered the
	// kept frames sent, only by the task's goroutine and then by report,
	// after it. The task owes an answer while asked > answered. ended,
	// under server.mu, is set by report, after which the read loop
	// answers a split frame itself.
	asked    atomic.Int64
	answered int64
	ended    bool
	kept     func(gaveUp []byte) error
}

func (st *taskState) statusText() string {
	if s := st.status.Load(); s != nil {
		return *s
	}
	return ""
}

// job is a task received from the driver, with the context that a cancel
// frame or the driver's departure cancels.
type job struct {
	seq    uint64
	task   Task
	ctx    context.Context
	cancel context.CancelFunc
	state  *taskState
}

// server is the worker side of the protocol.
type server struct {
	h        Handler
	interval time.Duration

	wmu sync.Mutex // serialises frames on out
	out frameWriter

	jobs chan job
	quit chan struct{} // closed when the driver is gone or asked for shutdown
	// quitErr says why quit was closed: nil for EOF or a shutdown frame.
	quitErr error

	mu       sync.Mutex
	curSeq   uint64
	curCan   context.CancelFunc
	curState *taskState
}

// Serve turns the current process into a worker: it reads tasks from the
// control pipe, runs h for each, one at a time, writes results, and sends
// heartbeats while a task runs. It returns nil when the driver closes the
// pipe or asks for shutdown, and an error when the protocol breaks; either
// way the caller should then exit. A handler still running then is cancelled
// and given a short grace period, not waited for.
//
// The driver's death closes the pipe, so Serve returns by itself; the pool
// also asks the kernel to SIGKILL workers when the driver dies, for a worker
// stuck where it cannot notice.
func Serve(h Handler) error {
	if !IsWorker() {
		return ErrNotWorker
	}
	in, out, err := openPipes()
	if err != nil {
		return fmt.Errorf("exec: worker pid %d: %w", os.Getpid(), err)
	}
	defer in.Close()
	defer out.Close()

	interval := 500 * time.Millisecond
	if ms, err := strconv.Atoi(os.Getenv(envHeartbeat)); err == nil && ms > 0 {
		interval = time.Duration(ms) * time.Millisecond
	}
	driver := driverPid()
	serving.Store(true)
	forgetWorkerEnv()
	s := &server{
		h:        h,
		interval: interval,
		out:      frameWriter{w: out},
		jobs:     make(chan job, 1),
		quit:     make(chan struct{}),
	}
	if err := s.send(func(fw *frameWriter) error { return fw.writeHello(ProtocolVersion, os.Getpid()) }); err != nil {
		return fmt.Errorf("exec: worker pid %d: sending hello: %w", os.Getpid(), err)
	}
	base, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	if driver > 0 {
		// Where the kernel does not kill workers with their driver, a
		// worker watches the driver itself: closing the control pipe ends
		// Serve as the driver's EOF would, and the process exits outright
		// if Serve's caller has not done so by orphanExit.
		stop := watchDriver(driver, func() {
			in.Close()
			time.AfterFunc(orphanExit, func() { os.Exit(exitOrphaned) })
		})
		defer stop()
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		s.readLoop(base, in)
	}()
	defer func() {
		// Unblock the reader if it is still reading (we are leaving because a
		// write failed) so Serve leaves no goroutine behind.
		in.Close()
		<-readDone
	}()

	for {
		select {
		case j := <-s.jobs:
			if err := s.run(j); err != nil {
				return err
			}
		case <-s.quit:
			return s.quitErr
		}
	}
}

// send writes one frame under the write lock.
func (s *server) send(f func(*frameWriter) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return f(&s.out)
}

// readLoop reads frames from the driver until EOF, a shutdown frame or a
// protocol error, then closes s.quit.
func (s *server) readLoop(base context.Context, in io.Reader) {
	br := bufio.NewReaderSize(in, 64<<10)
	var hdr [headerSize]byte
	defer close(s.quit)
	for {
		m, err := readMessage(br, hdr[:])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				s.quitErr = fmt.Errorf("exec: worker pid %d reading control pipe: %w", os.Getpid(), err)
			}
			return
		}
		switch m.typ {
		case frameTask:
			ctx, cancel := context.WithCancel(base)
			seq := m.seq
			st := &taskState{kept: func(gaveUp []byte) error {
				return s.send(func(fw *frameWriter) error { return fw.writeKept(seq, gaveUp) })
			}}
			s.mu.Lock()
			s.curSeq, s.curCan, s.curState = m.seq, cancel, st
			s.mu.Unlock()
			j := job{seq: m.seq, ctx: ctx, cancel: cancel, state: st,
				task: Task{ID: m.id, Attempt: m.attempt, Kind: m.kind, Payload: m.payload}}
			select {
			case s.jobs <- j:
			default:
				// The driver sends one task at a time and waits for its
				// outcome; a second one means the two sides disagree.
				cancel()
				s.quitErr = fmt.Errorf("exec: worker pid %d: task %s sent while another is queued", os.Getpid(), m.id)
				return
			}
		case frameCancel:
			s.mu.Lock()
			if s.curSeq == m.seq && s.curCan != nil {
				s.curCan()
			}
			s.mu.Unlock()
		case frameSplit:
			s.mu.Lock()
			st := s.curState
			running := s.curSeq == m.seq && st != nil && !st.ended
			if running {
				st.asked.Add(1)
			}
			s.mu.Unlock()
			if !running {
				// The task ended (or never came): it gives up nothing.
				seq := m.seq
				_ = s.send(func(fw *frameWriter) error { return fw.writeKept(seq, nil) })
			}
		case frameShutdown:
			return
		default:
			s.quitErr = fmt.Errorf("%w: worker pid %d got unexpected frame type %d", errFrame, os.Getpid(), m.typ)
			return
		}
	}
}

// outcome is what a handler goroutine hands back.
type outcome struct {
	res      Result
	err      error
	panicked bool
	panicMsg string
	stack    []byte
}

// run executes one job and reports its outcome. It returns an error only when
// the driver is unreachable, which ends Serve.
func (s *server) run(j job) error {
	defer j.cancel()
	st := j.state
	ctx := context.WithValue(j.ctx, taskStateKey{}, st)
	done := make(chan outcome, 1)
	go func() {
		finished := false
		defer func() {
			if finished {
				return
			}
			// Either a panic, or runtime.Goexit (recover returns nil then).
			o := outcome{panicked: true, stack: debug.Stack()}
			if r := recover(); r != nil {
				o.panicMsg = fmt.Sprint(r)
			} else {
				o.panicMsg = "handler called runtime.Goexit"
			}
			done <- o
		}()
		res, err := s.h(ctx, j.task)
		finished = true
		done <- outcome{res: res, err: err}
	}()

	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			return s.report(j, o)
		case <-tick.C:
			err := s.send(func(fw *frameWriter) error {
				return fw.writeHeartbeat(j.seq, st.done.Load(), st.total.Load(), peakRSS(), st.statusText())
			})
			if err != nil {
				return fmt.Errorf("exec: worker pid %d: sending heartbeat for task %s: %w", os.Getpid(), j.task.ID, err)
			}
		case <-s.quit:
			j.cancel()
			select {
			case <-done:
			case <-time.After(shutdownGrace):
			}
			return s.quitErr
		}
	}
}

func (s *server) report(j job, o outcome) error {
	rss := peakRSS()
	// What the task wrote to stderr is all in the pipe before this mark,
	// and the mark before the result: the pool ends the task's log there.
	_, _ = os.Stderr.WriteString(taskEndMark)
	// The split requests the task left unanswered: it gave up nothing.
	// Answered before the result, and none is counted in after it.
	s.mu.Lock()
	j.state.ended = true
	s.mu.Unlock()
	for j.state.answered < j.state.asked.Load() {
		j.state.answered++
		if err := j.state.kept(nil); err != nil {
			return fmt.Errorf("exec: worker pid %d: answering a split of task %s attempt %d: %w", os.Getpid(), j.task.ID, j.task.Attempt, err)
		}
	}
	var err error
	switch {
	case o.panicked:
		err = s.send(func(fw *frameWriter) error {
			return fw.writeError(j.seq, true, rss, o.panicMsg, o.stack)
		})
	case o.err != nil:
		err = s.send(func(fw *frameWriter) error {
			return fw.writeError(j.seq, false, rss, o.err.Error(), nil)
		})
	default:
		err = s.send(func(fw *frameWriter) error {
			return fw.writeResult(j.seq, rss, o.res.Payload)
		})
	}
	if err != nil {
		return fmt.Errorf("exec: worker pid %d: reporting task %s attempt %d: %w", os.Getpid(), j.task.ID, j.task.Attempt, err)
	}
	return nil
}
