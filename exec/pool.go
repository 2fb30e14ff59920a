package exec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PoolOptions configures a Pool. Zero values of the optional fields select
// the documented defaults.
type PoolOptions struct {
	Workers int      // number of worker processes, >= 1
	Args    []string // extra args for the child (default none); binary = os.Executable()
	Env     []string // extra env for the child, after the driver's own environment
	// Stderr receives the children's stdout and stderr; nil -> os.Stderr.
	// Writes to it are serialised, so it need not be safe for concurrent use.
	Stderr io.Writer
	// HeartbeatInterval is how often a busy worker reports that it is alive,
	// with its progress and peak RSS; 0 -> 500ms.
	HeartbeatInterval time.Duration
	// TaskTimeout: a task that reports no progress (see Progress) for this
	// long has its worker killed, and Run fails with ErrTaskTimeout. The
	// clock starts when the task is sent. Heartbeats alone do not reset it,
	// because a worker keeps heartbeating while its handler is stuck; but a
	// worker that stops heartbeating (frozen, stopped) is caught too. 0 -> none.
	TaskTimeout time.Duration
	// CancelGrace is how long Run waits, after its ctx is cancelled, for the
	// handler to stop before killing the worker; 0 -> 2s.
	CancelGrace time.Duration
	// StartTimeout bounds a worker's start-up until its hello; 0 -> 30s.
	StartTimeout time.Duration
	// OnStatus, when set, is called from Run's goroutine when the task is
	// sent to its worker and with every heartbeat of the task that Run is
	// running. It must not block.
	OnStatus func(Status)
	Logger   *slog.Logger // nil -> discard
}

// Status is a running task's state as of its latest heartbeat.
type Status struct {
	TaskID  string
	Attempt int
	Pid     int
	Done    int64 // as last passed to Progress
	Total   int64
	PeakRSS int64 // the worker's peak RSS in bytes
	// Text is the task's status, as last passed to SetStatus.
	Text string
}

// Pool is a fixed-size set of worker processes running tasks sent by Run.
type Pool struct {
	opts PoolOptions
	bin  string
	env  []string
	log  *slog.Logger

	outMu sync.Mutex // serialises writes to opts.Stderr
	idle  chan *slot // slots whose worker is free; capacity = Workers
	quit  chan struct{}

	spawnReq  chan chan spawnReply
	spawnQuit chan struct{}
	spawnDone chan struct{}

	mu      sync.Mutex
	closed  bool
	slots   []*slot
	workers map[*worker]struct{} // started and not yet reaped
	wg      sync.WaitGroup       // replacement goroutines

	seq       atomic.Uint64
	peakRSS   atomic.Int64
	closeOnce sync.Once
	served    atomic.Bool // some worker has said hello
	unclean   []string    // guarded by mu; set by close
}

// slot is one place in the pool. Its worker changes when one dies and is
// replaced; w is written under Pool.mu by whoever holds the slot.
type slot struct {
	w *worker
}

type spawnReply struct {
	w   *worker
	err error
}

// worker is the driver's handle on one child process.
type worker struct {
	pid  int
	cmd  *osexec.Cmd
	ctl  *os.File // driver -> worker
	res  *os.File // worker -> driver
	tail *tailBuffer

	wmu sync.Mutex // serialises frames on ctl
	fw  frameWriter

	tasksSent int // by the Run that holds the worker's slot

	msgs        chan message
	discard     chan struct{} // closed when nobody will read msgs again
	discardOnce sync.Once
	dead        chan struct{} // closed after the process is reaped

	// Set before dead is closed.
	state   *os.ProcessState
	readErr error
}

// DefaultHeartbeat is PoolOptions.HeartbeatInterval unless set: how often a
// busy worker sends its task's progress.
const DefaultHeartbeat = 500 * time.Millisecond

const (
	defaultCancelGrace  = 2 * time.Second
	defaultStartTimeout = 30 * time.Second
	closeGrace          = 2 * time.Second
	tailSize            = 4 << 10
)

// StartPool starts opts.Workers child processes of the current binary and
// waits until each has said hello with this package's protocol version. It
// returns an error naming the binary if a child fails to start. ctx bounds
// the start-up only; the workers live until Close.
func StartPool(ctx context.Context, opts PoolOptions) (*Pool, error) {
	if opts.Workers < 1 {
		return nil, fmt.Errorf("exec: PoolOptions.Workers is %d, want >= 1", opts.Workers)
	}
	if err := platformStartError(); err != nil {
		return nil, err
	}
	if IsWorker() {
		// The child runs the same main as the driver; a main that forgot to
		// call Serve would otherwise fork workers of its own, recursively.
		return nil, errors.New("exec: StartPool called inside a worker process: main must call exec.Serve when exec.IsWorker() is true")
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("exec: finding the current binary to start workers: %w", err)
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeat
	}
	if opts.CancelGrace <= 0 {
		opts.CancelGrace = defaultCancelGrace
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := append(os.Environ(), opts.Env...)
	hbMS := max(opts.HeartbeatInterval.Milliseconds(), 1)
	// Last entries win in os/exec, so these override any inherited values.
	env = append(env, envWorker+"=1", envHeartbeat+"="+strconv.FormatInt(hbMS, 10),
		envDriverPid+"="+strconv.Itoa(os.Getpid()))

	p := &Pool{
		opts:      opts,
		bin:       bin,
		env:       env,
		log:       log,
		idle:      make(chan *slot, opts.Workers),
		quit:      make(chan struct{}),
		spawnReq:  make(chan chan spawnReply),
		spawnQuit: make(chan struct{}),
		spawnDone: make(chan struct{}),
		workers:   make(map[*worker]struct{}),
	}
	go p.spawner()

	// Fork them all first, then wait for the hellos, so start-up costs one
	// child's start time rather than Workers of them.
	ws := make([]*worker, 0, opts.Workers)
	for i := 0; i < opts.Workers; i++ {
		w, err := p.startProcess()
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("exec: starting worker %d of %d: %w", i+1, opts.Workers, err)
		}
		ws = append(ws, w)
	}
	for i, w := range ws {
		w, err := p.helloOrRestart(ctx, w)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("exec: starting worker %d of %d: %w", i+1, opts.Workers, err)
		}
		ws[i] = w
	}
	p.mu.Lock()
	for _, w := range ws {
		s := &slot{w: w}
		p.slots = append(p.slots, s)
		p.idle <- s
	}
	p.mu.Unlock()
	log.Debug("exec: pool started", "binary", bin, "workers", opts.Workers)
	return p, nil
}

// spawner forks every worker of the pool from one goroutine locked to its OS
// thread. On Linux, Pdeathsig fires when the *thread* that forked the child
// exits, not when the process does: forking from whatever thread a goroutine
// happens to run on would let the runtime retire that thread and SIGKILL a
// healthy worker. This thread lives until Close has reaped every worker; the
// goroutine then exits still locked, so the runtime destroys the thread
// rather than reusing it.
func (p *Pool) spawner() {
	runtime.LockOSThread()
	defer close(p.spawnDone)
	for {
		select {
		case reply := <-p.spawnReq:
			w, err := p.forkWorker()
			reply <- spawnReply{w, err}
		case <-p.spawnQuit:
			return
		}
	}
}

// startProcess asks the spawner thread to fork a worker.
func (p *Pool) startProcess() (*worker, error) {
	reply := make(chan spawnReply, 1)
	select {
	case p.spawnReq <- reply:
	case <-p.spawnQuit:
		return nil, ErrPoolClosed
	}
	r := <-reply
	return r.w, r.err
}

// forkWorker starts one child. It runs on the spawner thread.
func (p *Pool) forkWorker() (*worker, error) {
	// Holding mu across the fork makes "not closed" and "registered in
	// p.workers" one step, so Close sees every worker that ever started.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec: control pipe for worker %s: %w", p.bin, err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("exec: result pipe for worker %s: %w", p.bin, err)
	}
	tail := &tailBuffer{out: p.opts.Stderr, outMu: &p.outMu}
	cmd := osexec.Command(p.bin, p.opts.Args...)
	cmd.Env = p.env
	// One writer for both, so os/exec uses a single pipe and the tail keeps
	// stdout and stderr in the order the child wrote them.
	cmd.Stdout = tail
	cmd.Stderr = tail
	cmd.SysProcAttr = sysProcAttr()
	passPipes(cmd, ctlR, resW)
	// A grandchild that inherited the output pipe must not hold up Wait.
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	// The child has its own copies now; ours would hide its EOF.
	ctlR.Close()
	resW.Close()
	if err != nil {
		ctlW.Close()
		resR.Close()
		return nil, fmt.Errorf("exec: starting worker %s: %w", p.bin, err)
	}
	if err := adopt(cmd.Process); err != nil {
		// The worker still goes with the driver by its watcher and the
		// pipe's EOF; only one stuck where it cannot notice would stay.
		p.log.Warn("exec: worker may outlive a killed driver", "err", err)
	}
	w := &worker{
		pid:     cmd.Process.Pid,
		cmd:     cmd,
		ctl:     ctlW,
		res:     resR,
		tail:    tail,
		fw:      frameWriter{w: ctlW},
		msgs:    make(chan message, 16),
		discard: make(chan struct{}),
		dead:    make(chan struct{}),
	}
	p.workers[w] = struct{}{}
	go p.readLoop(w)
	return w, nil
}

// readLoop delivers w's frames to w.msgs until the pipe closes, then reaps
// the process and closes w.dead. Every frame is in w.msgs before dead closes,
// so a result written just before the worker exited is not lost.
func (p *Pool) readLoop(w *worker) {
	br := bufio.NewReaderSize(w.res, 64<<10)
	var hdr [headerSize]byte
	for {
		m, err := readMessage(br, hdr[:])
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A worker that garbles the protocol cannot be trusted to
				// exit by itself.
				w.readErr = fmt.Errorf("exec: reading from worker pid %d: %w", w.pid, err)
				w.kill()
			}
			break
		}
		if m.peakRSS > 0 {
			for {
				cur := p.peakRSS.Load()
				if m.peakRSS <= cur || p.peakRSS.CompareAndSwap(cur, m.peakRSS) {
					break
				}
			}
		}
		select {
		case w.msgs <- m:
		case <-w.discard:
		}
	}
	w.res.Close()
	_ = w.cmd.Wait() // the exit status is in ProcessState
	w.state = w.cmd.ProcessState
	w.ctl.Close()
	p.mu.Lock()
	delete(p.workers, w)
	p.mu.Unlock()
	close(w.dead)
	p.log.Debug("exec: worker exited", "pid", w.pid, "status", w.state.String())
}

func (w *worker) kill() {
	// os.Process.Kill is safe against the pid being reaped concurrently.
	_ = w.cmd.Process.Kill()
}

func (w *worker) isDead() bool {
	select {
	case <-w.dead:
		return true
	default:
		return false
	}
}

// killAndReap kills w and waits until it is reaped, discarding its frames.
func (w *worker) killAndReap() {
	w.discardOnce.Do(func() { close(w.discard) })
	w.kill()
	<-w.dead
}

// awaitHello waits for w's handshake.
func (p *Pool) awaitHello(ctx context.Context, w *worker) error {
	timer := time.NewTimer(p.opts.StartTimeout)
	defer timer.Stop()
	select {
	case m := <-w.msgs:
		if m.typ != frameHello {
			w.killAndReap()
			return fmt.Errorf("exec: worker %s pid %d sent frame type %d before hello", p.bin, w.pid, m.typ)
		}
		if m.version != ProtocolVersion {
			w.killAndReap()
			return fmt.Errorf("exec: worker %s pid %d speaks protocol version %d, want %d", p.bin, w.pid, m.version, ProtocolVersion)
		}
		return nil
	case <-w.dead:
		if w.readErr != nil {
			return fmt.Errorf("exec: worker %s pid %d before hello: %w", p.bin, w.pid, w.readErr)
		}
		return &startError{fmt.Sprintf("exec: worker %s pid %d exited before hello (%s); output: %q", p.bin, w.pid, w.state, w.tail.String())}
	case <-ctx.Done():
		w.killAndReap()
		return fmt.Errorf("exec: waiting for hello from worker %s pid %d: %w", p.bin, w.pid, ctx.Err())
	case <-timer.C:
		w.killAndReap()
		return fmt.Errorf("exec: worker %s pid %d sent no hello within %v; does main call exec.Serve when exec.IsWorker()?", p.bin, w.pid, p.opts.StartTimeout)
	}
}

// startTries is how many times in a row a worker may die during start-up
// before the pool gives up on it. A worker killed while it starts (by the
// OOM killer, by a user, by a test) is replaced like any other dead
// worker; only a binary that never gets to its hello fails the pool.
const startTries = 3

// startError is a worker's death before its hello.
type startError struct{ msg string }

func (e *startError) Error() string { return e.msg }

// helloOrRestart waits for w's hello; if w dies first, it starts another
// worker in its place, up to startTries in all. When none of them said
// hello and no worker of the pool ever did, the binary itself is the
// likely cause, and the error says what to check.
func (p *Pool) helloOrRestart(ctx context.Context, w *worker) (*worker, error) {
	for try := 1; ; try++ {
		err := p.awaitHello(ctx, w)
		if err == nil {
			p.served.Store(true)
			return w, nil
		}
		var se *startError
		if !errors.As(err, &se) {
			return nil, err
		}
		if try == startTries {
			if !p.served.Load() {
				return nil, fmt.Errorf("%w (%d starts in a row); does main call exec.Serve when exec.IsWorker()?", err, startTries)
			}
			return nil, fmt.Errorf("%w (%d starts in a row)", err, startTries)
		}
		p.log.Warn("exec: worker died during start-up; starting another", "err", err)
		if w, err = p.startProcess(); err != nil {
			return nil, err
		}
	}
}

// spawn starts a worker and waits for its hello, starting another if it
// dies on the way (helloOrRestart).
func (p *Pool) spawn(ctx context.Context) (*worker, error) {
	w, err := p.startProcess()
	if err != nil {
		return nil, err
	}
	return p.helloOrRestart(ctx, w)
}

// replace gives slot s a new worker in the background, after its worker died
// or was killed, so the pool keeps its size. If the start fails, s goes back
// to idle without a worker, and the next Run that takes it tries again and
// reports the error.
func (p *Pool) replace(s *slot) {
	p.mu.Lock()
	s.w = nil
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		w, err := p.spawn(context.Background())
		if err != nil {
			if !errors.Is(err, ErrPoolClosed) {
				p.log.Warn("exec: replacing worker failed", "err", err)
			}
		} else {
			p.mu.Lock()
			s.w = w
			p.mu.Unlock()
			p.log.Info("exec: replacement worker started", "pid", w.pid)
		}
		p.idle <- s
	}()
}

// Run sends t to an idle worker (waiting for one) and returns its result.
// Safe for concurrent use: the driver calls Run from up to Workers goroutines
// at once.
//
// If the worker process dies during the task (killed, crashed, os.Exit), Run
// returns a *WorkerError and the pool starts a replacement worker so it keeps
// its size. If the handler returned an error or panicked, Run returns a
// *TaskError. If the task makes no progress for TaskTimeout, the worker is
// killed and replaced and the error wraps ErrTaskTimeout. If ctx is
// cancelled, the task is cancelled in the worker (or the worker is killed if
// it does not stop within CancelGrace) and Run returns ctx.Err(). After
// Close, Run returns an error wrapping ErrPoolClosed.
// refill starts a new worker in slot s for task t. When that fails the
// slot goes back to the idle queue empty, to be refilled by the next Run.
func (p *Pool) refill(ctx context.Context, s *slot, t *Task) (*worker, error) {
	nw, err := p.spawn(ctx)
	p.mu.Lock()
	s.w = nw
	p.mu.Unlock()
	if err != nil {
		p.idle <- s
		return nil, fmt.Errorf("exec: task %s attempt %d: no worker: %w", t.ID, t.Attempt, err)
	}
	return nw, nil
}

func (p *Pool) Run(ctx context.Context, t Task) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if n := len(t.Payload) + len(t.ID) + len(t.Kind) + 32; n > MaxFrameSize {
		return Result{}, fmt.Errorf("exec: task %s attempt %d: payload of %d bytes exceeds MaxFrameSize", t.ID, t.Attempt, len(t.Payload))
	}
	select {
	case <-p.quit:
		return Result{}, ErrPoolClosed
	default:
	}
	var s *slot
	select {
	case s = <-p.idle:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-p.quit:
		return Result{}, ErrPoolClosed
	}
	p.mu.Lock()
	w, closed := s.w, p.closed
	p.mu.Unlock()
	if closed {
		p.idle <- s
		return Result{}, ErrPoolClosed
	}
	if w == nil || w.isDead() {
		// The last replacement failed, or the worker died while idle.
		if w != nil {
			p.log.Warn("exec: idle worker died", "pid", w.pid, "status", w.state.String())
		}
		nw, err := p.refill(ctx, s, &t)
		if err != nil {
			return Result{}, err
		}
		w = nw
	}
	res, healthy, err := p.runOn(ctx, w, &t)
	if errors.Is(err, errNotSent) {
		// The worker died while idle, before the pool noticed. The task
		// never reached it, so a fresh worker may run it as the same attempt.
		p.log.Warn("exec: idle worker died", "pid", w.pid, "status", w.state.String())
		nw, serr := p.refill(ctx, s, &t)
		if serr != nil {
			return Result{}, serr
		}
		res, healthy, err = p.runOn(ctx, nw, &t)
		if errors.Is(err, errNotSent) {
			err = fmt.Errorf("exec: task %s attempt %d: new worker pid %d died before taking the task: %w",
				t.ID, t.Attempt, nw.pid, p.deathError(ctx, nw, &t))
		}
	}
	if healthy {
		p.idle <- s
	} else {
		p.replace(s)
	}
	return res, err
}

// runOn runs t on w, which the caller holds. healthy reports whether w can
// take another task.
func (p *Pool) runOn(ctx context.Context, w *worker, t *Task) (res Result, healthy bool, err error) {
	seq := p.seq.Add(1)
	if t.Log != "" {
		// Before the task is sent: its first output may come at once.
		// The death path returns after the process is reaped, when
		// os/exec has copied all of its output: nothing is cut off.
		w.tail.startLog(t.Log)
		defer w.tail.stopLog()
	}
	w.wmu.Lock()
	err = w.fw.writeTask(seq, t)
	w.wmu.Unlock()
	if err != nil {
		// The pipe broke: the worker is dead or dying.
		w.killAndReap()
		return Result{}, false, errNotSent
	}
	w.tasksSent++
	if p.opts.OnStatus != nil {
		p.opts.OnStatus(Status{TaskID: t.ID, Attempt: t.Attempt, Pid: w.pid})
	}

	var timeoutC <-chan time.Time
	var timer *time.Timer
	if p.opts.TaskTimeout > 0 {
		timer = time.NewTimer(p.opts.TaskTimeout)
		defer timer.Stop()
		timeoutC = timer.C
	}
	var graceC <-chan time.Time
	// A split request waits for the worker's kept frame; whatever ends
	// the task first answers it with nil.
	splitC := t.Split
	var asked chan<- []byte
	defer func() {
		if asked != nil {
			asked <- nil
		}
	}()
	ctxDone := ctx.Done()
	cancelled := false
	lastDone, lastTotal, lastText := int64(0), int64(0), ""

	// finish turns a terminal frame into Run's return values.
	finish := func(m message) (Result, bool, error) {
		// The worker marked the end of the task's output before this
		// frame; wait for the mark, so that the task's log is whole.
		w.tail.awaitTaskEnd(w.tasksSent, taskEndWait)
		if m.typ == frameResult {
			if cancelled {
				return Result{}, true, ctx.Err()
			}
			return Result{Payload: m.payload, PeakRSS: m.peakRSS}, true, nil
		}
		if cancelled {
			return Result{}, true, ctx.Err()
		}
		return Result{}, true, &TaskError{TaskID: t.ID, Attempt: t.Attempt, Message: m.text, Stack: string(m.payload), Panic: m.panic}
	}

	for {
		select {
		case m := <-w.msgs:
			if m.seq != seq {
				continue // about an earlier task; nothing to do with this one
			}
			switch m.typ {
			case frameResult, frameError:
				return finish(m)
			case frameKept:
				if asked == nil {
					w.killAndReap()
					return Result{}, false, fmt.Errorf("%w: worker pid %d answered a split it was not asked for, during task %s attempt %d", errFrame, w.pid, t.ID, t.Attempt)
				}
				if len(m.payload) == 0 {
					asked <- nil
				} else {
					asked <- m.payload
				}
				asked, splitC = nil, t.Split
			case frameHeartbeat:
				if timer != nil && (m.done != lastDone || m.total != lastTotal || m.text != lastText) {
					timer.Reset(p.opts.TaskTimeout)
				}
				lastDone, lastTotal, lastText = m.done, m.total, m.text
				if p.opts.OnStatus != nil {
					p.opts.OnStatus(Status{TaskID: t.ID, Attempt: t.Attempt, Pid: w.pid, Done: m.done, Total: m.total, PeakRSS: m.peakRSS, Text: m.text})
				}
			default:
				w.killAndReap()
				return Result{}, false, fmt.Errorf("%w: worker pid %d sent frame type %d during task %s attempt %d", errFrame, w.pid, m.typ, t.ID, t.Attempt)
			}
		case <-w.dead:
			// Frames sent before the exit are all queued by now.
		drain:
			for {
				select {
				case m := <-w.msgs:
					if m.seq == seq && (m.typ == frameResult || m.typ == frameError) {
						r, _, err := finish(m)
						return r, false, err
					}
				default:
					break drain
				}
			}
			return Result{}, false, p.deathError(ctx, w, t)
		case reply := <-splitC:
			w.wmu.Lock()
			werr := w.fw.writeSplit(seq)
			w.wmu.Unlock()
			if werr != nil {
				reply <- nil
				continue // the worker is dying; w.dead says so next
			}
			asked, splitC = reply, nil
		case <-ctxDone:
			cancelled = true
			ctxDone = nil
			w.wmu.Lock()
			werr := w.fw.writeCancel(seq)
			w.wmu.Unlock()
			if werr != nil {
				w.killAndReap()
				return Result{}, false, ctx.Err()
			}
			graceC = time.After(p.opts.CancelGrace)
		case <-graceC:
			p.log.Warn("exec: worker ignored cancellation; killing it", "pid", w.pid, "task", t.ID, "attempt", t.Attempt)
			w.killAndReap()
			return Result{}, false, ctx.Err()
		case <-timeoutC:
			p.log.Warn("exec: task made no progress; killing its worker", "pid", w.pid, "task", t.ID, "attempt", t.Attempt, "timeout", p.opts.TaskTimeout)
			w.killAndReap()
			return Result{}, false, fmt.Errorf("exec: task %s attempt %d on worker pid %d: no progress for %v: %w",
				t.ID, t.Attempt, w.pid, p.opts.TaskTimeout, ErrTaskTimeout)
		}
	}
}

// errNotSent says that a task frame could not be written to its worker, so
// the task did not start.
var errNotSent = errors.New("exec: task not delivered")

// deathError describes the death of w (already reaped) while it ran t.
func (p *Pool) deathError(ctx context.Context, w *worker, t *Task) error {
	select {
	case <-p.quit:
		return fmt.Errorf("exec: task %s attempt %d: %w", t.ID, t.Attempt, ErrPoolClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e := &WorkerError{TaskID: t.ID, Attempt: t.Attempt, Pid: w.pid, ExitCode: -1, StderrTail: w.tail.String()}
	if st := w.state; st != nil {
		e.ExitCode = st.ExitCode()
		e.Signal = signalName(st)
	}
	p.log.Warn("exec: worker died", "pid", w.pid, "task", t.ID, "attempt", t.Attempt, "exit", e.ExitCode, "signal", e.Signal)
	return e
}

// Close tells all workers to exit (a shutdown frame, then closing their
// control pipes), waits up to 2s, SIGKILLs the rest and reaps them all. No
// orphan or zombie processes remain after Close returns. Runs in progress
// return an error wrapping ErrPoolClosed. Idempotent; always returns nil.
func (p *Pool) Close() error {
	p.closeOnce.Do(p.close)
	return nil
}

func (p *Pool) close() {
	p.mu.Lock()
	p.closed = true
	ws := make([]*worker, 0, len(p.workers))
	for w := range p.workers {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	close(p.quit)

	killAt := time.Now().Add(closeGrace)
	for _, w := range ws {
		// Bound the shutdown write: a Run may hold wmu mid-way through a
		// large task frame to a worker that is no longer reading. Where
		// the pipe takes no deadline (Windows' synchronous anonymous
		// pipes), a worker that has not taken the frames by killAt is
		// killed, as one that does not exit by then is below: that breaks
		// the pipe and ends both writes.
		var killer *time.Timer
		if w.ctl.SetWriteDeadline(time.Now().Add(100*time.Millisecond)) != nil {
			killer = time.AfterFunc(time.Until(killAt), w.kill)
		}
		w.wmu.Lock()
		_ = w.fw.writeShutdown()
		w.wmu.Unlock()
		if killer != nil {
			killer.Stop()
		}
		w.ctl.Close()
	}
	timer := time.NewTimer(closeGrace)
	defer timer.Stop()
	expired := false
	for _, w := range ws {
		if expired {
			break
		}
		select {
		case <-w.dead:
		case <-timer.C:
			expired = true
		}
	}
	for _, w := range ws {
		exited := w.isDead()
		w.killAndReap()
		p.noteExit(w, exited)
	}
	p.wg.Wait()
	// Every worker is reaped; the spawner thread may go now.
	close(p.spawnQuit)
	<-p.spawnDone
}

// noteExit records a worker that did not exit cleanly when Close asked it
// to: it failed (exited non-zero, or was killed by a signal) or had to be
// killed (exited is false).
func (p *Pool) noteExit(w *worker, exited bool) {
	st := w.state
	if exited && (st == nil || st.Success()) {
		return
	}
	msg := fmt.Sprintf("worker pid %d did not exit within %v of shutdown and was killed", w.pid, closeGrace)
	if exited {
		msg = p.exitMessage(w)
	}
	p.mu.Lock()
	p.unclean = append(p.unclean, msg)
	p.mu.Unlock()
}

func (p *Pool) exitMessage(w *worker) string {
	st := w.state
	msg := fmt.Sprintf("worker pid %d %s after its last task", w.pid, st)
	if st.ExitCode() == 66 {
		msg += " (66 is the race detector's status: it found a data race in the worker; the report is in the worker's output)"
	}
	if tail := strings.TrimSpace(w.tail.String()); tail != "" {
		msg += "; its last output: " + strconv.Quote(lastLine(tail))
	}
	return msg
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// UncleanExits describes, after Close, each worker that failed on its way
// out, or had to be killed: the job's tasks were done, so this is a warning
// for the user, not a failure. Nil before Close.
func (p *Pool) UncleanExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		return nil
	}
	return slices.Clone(p.unclean)
}

// Pids returns the current workers' process IDs (for tests that kill workers
// from outside). A slot whose worker is being replaced is left out.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := make([]int, 0, len(p.slots))
	for _, s := range p.slots {
		if s.w != nil && !s.w.isDead() {
			pids = append(pids, s.w.pid)
		}
	}
	return pids
}

// PeakRSS returns the largest peak RSS, in bytes, that any worker of the pool
// has reported so far.
func (p *Pool) PeakRSS() int64 { return p.peakRSS.Load() }
