package streaming

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Proc is one run of a user's program: lines go to its stdin, lines come
// from its stdout, and its stderr is read for counters, status and log.
//
// Three goroutines serve it, each owning one pipe, so that no direction
// waits on another: a program may write output before it has read all of its
// input (a mapper that echoes as it reads) without a deadlock. The task's
// goroutine, which calls Write and Close, fills a buffer of input lines and
// hands full buffers to the feeder through a small channel; while that hand-
// over waits (the program is not reading), it takes parsed output from the
// reader and emits it. So every emit happens on the task's goroutine, as the
// task layer requires, and memory stays bounded in both directions: at most
// a few buffers of chunkSize each way.
type Proc struct {
	role  string // "mapper", "combiner" or "reducer", for errors
	line  string // the command line, for errors
	cmd   *osexec.Cmd
	guard guard         // kills the program's process tree (guard_unix.go, proc_windows.go)
	exit  error         // how the program ended, once reaped
	cpu   time.Duration // the processor time the program used, once reaped

	// Input: the task's goroutine appends to cur; full buffers go to
	// feed, the feeder writes them to the program and hands them back on
	// free. fed is closed when the feeder has stopped, feedErr (set before)
	// saying why if it was not the end of input.
	cur     []byte
	feed    chan []byte
	free    chan []byte
	fed     chan struct{}
	feedErr error
	closed  bool // feed is closed

	// Output: the reader sends chunks of whole lines on out and closes it
	// at the program's end of output, readErr (set before) saying what went
	// wrong; the task's goroutine hands chunks back on outFree.
	out     chan []byte
	outFree chan []byte
	readErr error
	stdin   io.WriteCloser
	stdout  io.ReadCloser

	errs   *stderrReader
	reaped atomic.Bool // set once the program has been waited for

	done    bool  // Close or Abort has run
	failure error // the first error, returned again by later calls
}

// chunkSize is how many bytes of lines travel between the task and a pipe
// goroutine at once: large enough that the channel costs nothing per line,
// small enough that a few buffers each way are little memory.
const chunkSize = 64 << 10

// DefaultMaxLine bounds one line that a program writes to stdout (and one
// input record it is sent, which the task layer bounds already): a program
// that writes a line longer than this fails its attempt with a clear error
// rather than making its worker hold the line in memory.
const DefaultMaxLine = 16 << 20

// ErrLineTooLong is wrapped by the error of a program that wrote a line
// longer than the limit (Options.MaxLine).
var ErrLineTooLong = errors.New("streaming: output line too long")

// exitGrace is how long a program that stopped reading its input gets to
// exit by itself, so that its own exit status and stderr explain why,
// before it is killed.
const exitGrace = 2 * time.Second

// Options describe how to start a program.
type Options struct {
	// Role names the program in errors: "mapper", "combiner", "reducer".
	Role string
	// Command is the command line, run by the shell (sh -c on Unix,
	// cmd /C on Windows); on Unix a line that is one simple command
	// runs without a shell (shellCommand).
	Command string
	// Dir is the working directory; "" for the current one.
	Dir string
	// Env is added to the worker's environment ("NAME=value").
	Env []string
	// MaxLine bounds an output line; 0 means DefaultMaxLine.
	MaxLine int
	// Log receives the program's stderr lines that are not reporter
	// lines; nil means the worker's own stderr (the attempt's log).
	Log io.Writer
}

// Start starts a program. The program's stderr is parsed as Hadoop
// Streaming's reporter protocol (see Reports).
func Start(opts Options) (*Proc, error) {
	if strings.TrimSpace(opts.Command) == "" {
		return nil, fmt.Errorf("streaming: no %s command", opts.Role)
	}
	maxLine := opts.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	logw := opts.Log
	if logw == nil {
		logw = os.Stderr
	}
	cmd := shellCommand(opts.Command, opts.Env)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	g, err := guardCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("streaming: %s %q: %w", opts.Role, opts.Command, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("streaming: %s %q: %w", opts.Role, opts.Command, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("streaming: %s %q: %w", opts.Role, opts.Command, err)
	}
	stdin, childStdin, err := stdinPipe(cmd)
	if err != nil {
		return nil, fmt.Errorf("streaming: %s %q: %w", opts.Role, opts.Command, err)
	}
	err = g.start(cmd)
	if childStdin != nil {
		childStdin.Close() // the program has it, or failed to start
	}
	if err != nil {
		stdin.Close()
		g.close()
		return nil, fmt.Errorf("streaming: start %s %q: %w", opts.Role, opts.Command, err)
	}
	p := &Proc{
		role: opts.Role, line: opts.Command, cmd: cmd, guard: g,
		feed: make(chan []byte, 1), free: make(chan []byte, 4), fed: make(chan struct{}),
		out: make(chan []byte, 2), outFree: make(chan []byte, 4), stdin: stdin, stdout: stdout,
		errs: newStderrReader(stderr, logw),
	}
	go p.feedLoop(stdin)
	go p.readLoop(stdout, maxLine)
	go p.errs.loop()
	return p, nil
}

// CPU is the processor time (user and system) the program used, with the
// processes it waited for (a shell line's commands); known once Close has
// returned. On Unix the guard's own time is not in it (the guard measures
// the program), unless the guard was killed before it could say.
func (p *Proc) CPU() time.Duration {
	if !p.reaped.Load() {
		return 0
	}
	return p.cpu
}

// Pid is the process id of what the worker started: on Unix the guard
// that runs the program (guard_unix.go), elsewhere the program.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Write sends one line (a newline is appended) to the program. While the
// program is not ready for it, Write emits the program's output lines,
// split at their first tab into key and value (a line without a tab is all
// key, with an empty value). The slices given to emit are valid only during
// the call.
func (p *Proc) Write(ctx context.Context, line []byte, emit func(key, value []byte)) error {
	if p.failure != nil {
		return p.failure
	}
	if p.cur == nil {
		p.cur = p.takeBuffer()
	}
	p.cur = append(p.cur, line...)
	p.cur = append(p.cur, '\n')
	if len(p.cur) < chunkSize {
		return nil
	}
	return p.flush(ctx, emit)
}

// WritePair sends "key<TAB>value" as one line.
func (p *Proc) WritePair(ctx context.Context, key, value []byte, emit func(key, value []byte)) error {
	if p.failure != nil {
		return p.failure
	}
	if p.cur == nil {
		p.cur = p.takeBuffer()
	}
	p.cur = append(p.cur, key...)
	p.cur = append(p.cur, '\t')
	p.cur = append(p.cur, value...)
	p.cur = append(p.cur, '\n')
	if len(p.cur) < chunkSize {
		return nil
	}
	return p.flush(ctx, emit)
}

func (p *Proc) takeBuffer() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]byte, 0, chunkSize+chunkSize/4)
	}
}

// flush hands the current buffer to the feeder, emitting output while it
// waits.
func (p *Proc) flush(ctx context.Context, emit func(key, value []byte)) error {
	if len(p.cur) == 0 {
		return nil
	}
	for {
		select {
		case p.feed <- p.cur:
			p.cur = nil
			return nil
		case chunk, ok := <-p.out:
			if !ok {
				// The program closed its output, and may still read
				// its input; if it has exited, the feeder will say.
				p.out = nil // a nil channel is never ready again
				continue
			}
			p.emitChunk(chunk, emit)
		case <-p.fed:
			return p.fail(ctx, p.stoppedReading(ctx))
		case <-ctx.Done():
			return p.fail(ctx, ctx.Err())
		}
	}
}

// Drain emits the output that is ready without waiting for more.
func (p *Proc) Drain(emit func(key, value []byte)) {
	for {
		select {
		case chunk, ok := <-p.out:
			if !ok {
				p.out = nil // a nil channel is never ready again
				return
			}
			p.emitChunk(chunk, emit)
		default:
			return
		}
	}
}

// emitChunk splits a chunk of whole lines into pairs.
func (p *Proc) emitChunk(chunk []byte, emit func(key, value []byte)) {
	buf := chunk
	for len(chunk) > 0 {
		nl := bytes.IndexByte(chunk, '\n')
		line := chunk[:nl]
		chunk = chunk[nl+1:]
		if k, v, ok := bytes.Cut(line, tab); ok {
			emit(k, v)
		} else {
			emit(line, nil)
		}
	}
	select {
	case p.outFree <- buf[:0]:
	default:
	}
}

var tab = []byte{'\t'}

// Close ends the program's input, emits the rest of its output, and waits
// for it to exit. A program that exits with a non-zero status, dies of a
// signal, stopped reading its input, or wrote a line too long fails with a
// *ProcError that carries the end of its stderr.
func (p *Proc) Close(ctx context.Context, emit func(key, value []byte)) error {
	if p.failure != nil {
		return p.failure
	}
	if err := p.flush(ctx, emit); err != nil {
		return err
	}
	close(p.feed)
	p.closed = true
	for p.out != nil {
		select {
		case chunk, ok := <-p.out:
			if !ok {
				p.out = nil
				break
			}
			p.emitChunk(chunk, emit)
		case <-ctx.Done():
			return p.fail(ctx, ctx.Err())
		}
	}
	return p.finish(ctx)
}

// finish waits for the feeder and the program once its output has ended.
func (p *Proc) finish(ctx context.Context) error {
	if p.readErr != nil {
		return p.fail(ctx, p.readErr)
	}
	select {
	case <-p.fed:
	case <-ctx.Done():
		return p.fail(ctx, ctx.Err())
	}
	if p.feedErr != nil {
		return p.fail(ctx, p.stoppedReading(ctx))
	}
	exit := p.wait(ctx)
	p.done = true
	defer p.stdin.Close() // kept open by endInput for leftUnread
	if exit != nil {
		p.failure = p.procError(exit, nil)
		return p.failure
	}
	if leftUnread(p.stdin) {
		p.failure = p.procError(nil, errors.New("stopped reading its input before the end (it exited with input left unread)"))
		return p.failure
	}
	return nil
}

// stoppedReading is the error of a program whose input could not be
// written: it exited, or closed its stdin, before the end of its input. It
// waits a little for the program to exit by itself, so that the error can
// say how it ended.
func (p *Proc) stoppedReading(ctx context.Context) error {
	<-p.fed
	cause := p.feedErr
	if cause == nil {
		cause = errors.New("closed its output")
	}
	exited := make(chan struct{})
	timer := time.AfterFunc(exitGrace, func() { p.kill() })
	defer timer.Stop()
	go func() {
		select {
		case <-exited:
		case <-ctx.Done():
			p.kill()
		}
	}()
	p.discardOutput()
	err := p.wait(ctx)
	close(exited)
	p.done = true
	return p.procError(err, fmt.Errorf("stopped reading its input before the end (%w)", cause))
}

// fail stops the program after an error and remembers the error.
func (p *Proc) fail(ctx context.Context, err error) error {
	if p.failure != nil {
		return p.failure
	}
	if !p.done {
		p.Abort()
	}
	var pe *ProcError
	if !errors.As(err, &pe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = p.procError(nil, err)
	}
	p.failure = err
	return err
}

// Abort kills the program (its whole process group on Unix) and waits for
// its pipes to close. Safe to call after Close.
func (p *Proc) Abort() {
	if p.done {
		return
	}
	p.done = true
	p.kill()
	// A grandchild that left the group may hold the pipes open; closing
	// our ends ends the reader goroutines whatever it does.
	p.stdin.Close()
	p.stdout.Close()
	p.errs.r.Close()
	p.discardOutput()
	if !p.closed {
		close(p.feed)
		p.closed = true
	}
	<-p.fed
	p.wait(context.Background())
}

func (p *Proc) discardOutput() {
	if p.out == nil {
		return
	}
	for range p.out {
	}
	p.out = nil
}

// wait reaps the program after its output pipes have ended, and returns
// its exit error (nil for status 0).
func (p *Proc) wait(ctx context.Context) error {
	p.discardOutput()
	<-p.errs.done
	if p.reaped.Load() {
		return p.exit
	}
	err := p.cmd.Wait()
	if p.cmd.ProcessState != nil {
		p.cpu, err = p.guard.exit(p.cmd.ProcessState)
	}
	p.guard.close()
	p.exit = err
	p.reaped.Store(true)
	return err
}

// Reports returns what the program has said on stderr since the last call:
// counter increments by "GROUP.NAME", and its latest status, if it set one.
// Safe to call while the program runs.
func (p *Proc) Reports() (counters map[string]int64, status string, ok bool) {
	return p.errs.take()
}

// ProcError is the failure of a user's program, with the end of what it
// wrote on stderr.
type ProcError struct {
	Role    string // mapper, combiner, reducer
	Command string
	// Exit is how the program ended (an *exec.ExitError), or nil when it
	// was not waited for or exited with status 0.
	Exit error
	// Err is what went wrong besides the exit, or nil.
	Err error
	// Stderr is the end of the program's stderr, without reporter lines.
	Stderr string
}

func (e *ProcError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "streaming %s %q", e.Role, e.Command)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Exit != nil {
		fmt.Fprintf(&b, ": %v", e.Exit)
	}
	if e.Stderr != "" {
		fmt.Fprintf(&b, "; its stderr ended with:\n%s", strings.TrimRight(e.Stderr, "\n"))
	} else {
		b.WriteString("; it wrote nothing on stderr")
	}
	return b.String()
}

func (e *ProcError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Exit != nil {
		errs = append(errs, e.Exit)
	}
	return errs
}

func (p *Proc) procError(exit, err error) *ProcError {
	<-p.errs.done
	return &ProcError{Role: p.role, Command: p.line, Exit: exit, Err: err, Stderr: p.errs.tail()}
}

// feedLoop owns the program's stdin. After a write error it stops: fed's
// closing tells the task, which stops sending.
func (p *Proc) feedLoop(stdin io.WriteCloser) {
	defer close(p.fed)
	for b := range p.feed {
		if _, err := stdin.Write(b); err != nil {
			p.feedErr = err
			stdin.Close()
			return
		}
		select {
		case p.free <- b:
		default:
		}
	}
	if err := endInput(stdin); err != nil {
		p.feedErr = err
	}
}

// endInput ends a program's input: it closes stdin, or only its writing
// side where stdin can say afterwards whether the program read it all
// (stdin_linux.go), which leftUnread then asks.
func endInput(stdin io.WriteCloser) error {
	if s, ok := stdin.(interface{ CloseWrite() error }); ok {
		return s.CloseWrite()
	}
	return stdin.Close()
}

// leftUnread reports whether a program that has exited left input unread,
// where its stdin can tell (stdin_linux.go); elsewhere, only a write that
// failed says so.
func leftUnread(stdin io.WriteCloser) bool {
	s, ok := stdin.(interface{ LeftUnread() bool })
	return ok && s.LeftUnread()
}

// readLoop owns the program's stdout: it cuts it into chunks of whole lines
// and sends them on out. A chunk goes out when it is full or when no more
// output is buffered, so a slow program's lines are not held back.
func (p *Proc) readLoop(stdout io.Reader, maxLine int) {
	defer close(p.out)
	r := bufio.NewReaderSize(trickleReader{stdout}, chunkSize)
	var chunk []byte
	send := func() {
		if len(chunk) > 0 {
			p.out <- chunk
			chunk = nil
		}
	}
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the reader's buffer: collect it.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(long) > maxLine {
					p.readErr = fmt.Errorf("%w: it wrote a line of more than %d bytes (starting %q)", ErrLineTooLong, maxLine, truncate(long, 40))
					return
				}
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			if len(line) > maxLine+1 {
				p.readErr = fmt.Errorf("%w: it wrote a line of %d bytes, more than %d (starting %q)", ErrLineTooLong, len(line), maxLine, truncate(line, 40))
				return
			}
			if chunk == nil {
				select {
				case chunk = <-p.outFree:
				default:
					chunk = make([]byte, 0, chunkSize+chunkSize/4)
				}
			}
			chunk = append(chunk, line...)
			if line[len(line)-1] != '\n' {
				chunk = append(chunk, '\n') // the last line, unterminated
			}
			if len(chunk) >= chunkSize || r.Buffered() == 0 {
				send()
			}
		}
		if err != nil {
			send()
			if err != io.EOF && !errors.Is(err, os.ErrClosed) {
				p.readErr = fmt.Errorf("read its output: %w", err)
			}
			return
		}
	}
}

// trickleReader reads a program's output, and after a read that found
// little waits a moment before the next, so that a program that writes
// line by line is read in a few large reads rather than one per line:
// Python with PYTHONUNBUFFERED set writes each line with a system call of
// its own, and each read costs the worker a wake-up and a system call.
type trickleReader struct{ r io.Reader }

// A read of less than trickle bytes is followed by a wait of trickleWait.
// A program that meanwhile writes more than the pipe holds (64 KiB on
// Linux, 128 MB/s) blocks until the next read, which empties the pipe.
const (
	trickle     = 4 << 10
	trickleWait = 500 * time.Microsecond
)

func (t trickleReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if err == nil && n < trickle && n < len(b) {
		time.Sleep(trickleWait)
	}
	return n, err
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// stderrReader parses a program's stderr: Hadoop Streaming's reporter
// lines ("reporter:counter:GROUP,NAME,AMOUNT", "reporter:status:TEXT")
// become counters and a status; every other line goes to the log and to a
// tail kept for the error of a failed program.
type stderrReader struct {
	r    io.ReadCloser
	log  io.Writer
	buf  []byte
	done chan struct{}

	mu       sync.Mutex
	counters map[string]int64
	status   string
	changed  bool
	lines    []string // the last tailLines lines
	next     int
}

// tailLines and tailLineBytes bound the stderr kept for an error.
const (
	tailLines     = 20
	tailLineBytes = 512
)

func newStderrReader(r io.ReadCloser, log io.Writer) *stderrReader {
	return &stderrReader{r: r, log: log, done: make(chan struct{}), counters: map[string]int64{}}
}

func (s *stderrReader) loop() {
	defer close(s.done)
	sc := bufio.NewScanner(s.r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		s.line(sc.Bytes())
	}
	if sc.Err() != nil {
		// A line longer than 1 MiB: keep reading, or the program would
		// block on a full pipe.
		io.Copy(io.Discard, s.r)
	}
}

var (
	counterPrefix = []byte("reporter:counter:")
	statusPrefix  = []byte("reporter:status:")
)

func (s *stderrReader) line(line []byte) {
	if rest, ok := bytes.CutPrefix(line, counterPrefix); ok {
		if name, n, err := parseCounter(rest); err == nil {
			s.mu.Lock()
			s.counters[name] += n
			s.changed = true
			s.mu.Unlock()
			return
		}
		// A malformed reporter line is logged as it is.
	}
	if rest, ok := bytes.CutPrefix(line, statusPrefix); ok {
		s.mu.Lock()
		s.status = string(rest)
		s.changed = true
		s.mu.Unlock()
		return
	}
	s.buf = append(append(s.buf[:0], line...), '\n')
	s.log.Write(s.buf)
	kept := string(truncate(line, tailLineBytes))
	s.mu.Lock()
	if len(s.lines) < tailLines {
		s.lines = append(s.lines, kept)
	} else {
		s.lines[s.next] = kept
		s.next = (s.next + 1) % tailLines
	}
	s.mu.Unlock()
}

// parseCounter parses "GROUP,NAME,AMOUNT" into the counter "GROUP.NAME".
func parseCounter(b []byte) (string, int64, error) {
	s := strings.TrimSpace(string(b))
	i := strings.LastIndexByte(s, ',')
	if i < 0 {
		return "", 0, errors.New("no amount")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s[i+1:]), 10, 64)
	if err != nil {
		return "", 0, err
	}
	group, name, ok := strings.Cut(s[:i], ",")
	if !ok || group == "" || name == "" {
		return "", 0, errors.New("want GROUP,NAME,AMOUNT")
	}
	return group + "." + name, n, nil
}

func (s *stderrReader) take() (map[string]int64, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.changed {
		return nil, "", false
	}
	c := s.counters
	s.counters = map[string]int64{}
	s.changed = false
	return c, s.status, true
}

func (s *stderrReader) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i := range s.lines {
		b.WriteString(s.lines[(s.next+i)%len(s.lines)])
		b.WriteByte('\n')
	}
	return b.String()
}
