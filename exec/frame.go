package exec

// This file reads and writes the frames of the driver<->worker protocol.
//
// The control channel is a pair of pipes inherited by the worker as fd 3
// (driver -> worker) and fd 4 (worker -> driver). Both directions carry the
// same framing:
//
//	+----------------+--------+---------------------+
//	| length uint32  | type   | body                |
//	| little-endian  | 1 byte | length bytes        |
//	+----------------+--------+---------------------+
//
// length counts the body only (not itself, not the type byte), and is at
// most MaxFrameSize. Integers in bodies are little-endian and fixed width;
// strings are a length prefix followed by raw bytes; the opaque task and
// result payloads run to the end of the body, so they are written raw with
// no copy and no re-encoding. The bodies, by type:
//
//	1 hello     worker->driver  version u16, pid u32
//	2 task      driver->worker  seq u64, attempt u32, idlen u16, id, kindlen u16, kind, payload...
//	3 cancel    driver->worker  seq u64
//	4 heartbeat worker->driver  seq u64, done i64, total i64, peakRSS i64, statuslen u16, status
//	5 result    worker->driver  seq u64, peakRSS i64, payload...
//	6 error     worker->driver  seq u64, flags u8 (bit 0: panic), peakRSS i64, msglen u32, msg, stack...
//	7 shutdown  driver->worker  (empty)
//	8 split     driver->worker  seq u64
//	9 kept      worker->driver  seq u64, payload...
//
// seq is chosen by the driver per task sent, and echoed in every frame about
// that task, so a late frame about an earlier task is recognised and ignored.
//
// A split frame asks the running task to give up part of the work it has
// not done yet (Task.Split). The worker answers every split frame with one
// kept frame, before the task's result or error: its payload, opaque to
// exec, describes the work the task gave up, and is empty when it gave up
// none. A worker answers a split frame for a task it no longer runs with
// an empty kept frame, which the driver, past that task, ignores.
//
// Worked example: a task with seq 1, attempt 1, ID "m-1", kind "map" and
// payload "hi" is 29 bytes on the wire:
//
//	18 00 00 00              length 24
//	02                       type task
//	01 00 00 00 00 00 00 00  seq 1
//	01 00 00 00              attempt 1
//	03 00 6d 2d 31           "m-1"
//	03 00 6d 61 70           "map"
//	68 69                    payload "hi"
//
// docs/protocol.md describes the conversation (handshake, heartbeats,
// cancellation, shutdown) around these frames.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// ProtocolVersion is the version of the driver<->worker protocol that this
// package speaks. The worker sends it in its hello frame; the driver refuses a
// worker that speaks another version.
//
//	1: the first version (frames as documented in frame.go).
//	2: heartbeats carry the task's status text (SetStatus).
//	3: split and kept frames (Task.Split, SplitAsked).
const ProtocolVersion = 3

// MaxFrameSize bounds the body of one frame, and so the size of a task or
// result payload. A length beyond it means a corrupt stream, and the reader
// stops rather than allocating whatever a stray length asks for.
const MaxFrameSize = 1 << 30

// Frame types.
const (
	frameHello     byte = 1
	frameTask      byte = 2
	frameCancel    byte = 3
	frameHeartbeat byte = 4
	frameResult    byte = 5
	frameError     byte = 6
	frameShutdown  byte = 7
	frameSplit     byte = 8
	frameKept      byte = 9
)

const headerSize = 5

// errFrame is wrapped by every decoding error, so a reader can tell a corrupt
// stream from a closed one.
var errFrame = errors.New("exec: malformed frame")

// message is a decoded frame. Which fields are set depends on typ.
type message struct {
	typ     byte
	seq     uint64
	version uint16 // hello
	pid     int    // hello
	attempt int    // task
	id      string // task
	kind    string // task
	done    int64  // heartbeat
	total   int64  // heartbeat
	peakRSS int64  // heartbeat, result, error
	panic   bool   // error
	text    string // error message; heartbeat: the task's status
	payload []byte // task, result and kept payload; error stack
}

// frameWriter assembles frames in a reusable buffer. It is not safe for
// concurrent use; callers serialise writes to one pipe themselves.
type frameWriter struct {
	w   io.Writer
	buf []byte
}

// begin starts a frame of type typ in the scratch buffer, leaving room for the
// header that finish fills in.
func (fw *frameWriter) begin(typ byte) {
	fw.buf = append(fw.buf[:0], 0, 0, 0, 0, typ)
}

// finish writes the frame: the header and fixed fields from the buffer, then
// tail (a payload) as a second write, so a large payload is never copied.
func (fw *frameWriter) finish(tail []byte) error {
	n := len(fw.buf) - headerSize + len(tail)
	if n > MaxFrameSize {
		return fmt.Errorf("exec: frame body of %d bytes exceeds MaxFrameSize (%d)", n, MaxFrameSize)
	}
	binary.LittleEndian.PutUint32(fw.buf[0:4], uint32(n))
	if len(tail) > 0 && len(tail) < 4096 {
		// Small payloads: one write is cheaper than two syscalls.
		fw.buf = append(fw.buf, tail...)
		tail = nil
	}
	if _, err := fw.w.Write(fw.buf); err != nil {
		return err
	}
	if len(tail) > 0 {
		if _, err := fw.w.Write(tail); err != nil {
			return err
		}
	}
	return nil
}

func (fw *frameWriter) u16(v uint16) { fw.buf = binary.LittleEndian.AppendUint16(fw.buf, v) }
func (fw *frameWriter) u32(v uint32) { fw.buf = binary.LittleEndian.AppendUint32(fw.buf, v) }
func (fw *frameWriter) u64(v uint64) { fw.buf = binary.LittleEndian.AppendUint64(fw.buf, v) }

// str16 appends a string with a uint16 length prefix, truncating what does
// not fit; IDs and kinds are short names, so truncation only guards the frame
// layout against misuse.
func (fw *frameWriter) str16(s string) {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	fw.u16(uint16(len(s)))
	fw.buf = append(fw.buf, s...)
}

func (fw *frameWriter) writeHello(version uint16, pid int) error {
	fw.begin(frameHello)
	fw.u16(version)
	fw.u32(uint32(pid))
	return fw.finish(nil)
}

func (fw *frameWriter) writeTask(seq uint64, t *Task) error {
	fw.begin(frameTask)
	fw.u64(seq)
	fw.u32(uint32(t.Attempt))
	fw.str16(t.ID)
	fw.str16(t.Kind)
	return fw.finish(t.Payload)
}

func (fw *frameWriter) writeCancel(seq uint64) error {
	fw.begin(frameCancel)
	fw.u64(seq)
	return fw.finish(nil)
}

func (fw *frameWriter) writeHeartbeat(seq uint64, done, total, peakRSS int64, status string) error {
	fw.begin(frameHeartbeat)
	fw.u64(seq)
	fw.u64(uint64(done))
	fw.u64(uint64(total))
	fw.u64(uint64(peakRSS))
	fw.str16(status)
	return fw.finish(nil)
}

func (fw *frameWriter) writeResult(seq uint64, peakRSS int64, payload []byte) error {
	fw.begin(frameResult)
	fw.u64(seq)
	fw.u64(uint64(peakRSS))
	return fw.finish(payload)
}

func (fw *frameWriter) writeError(seq uint64, panicked bool, peakRSS int64, msg string, stack []byte) error {
	fw.begin(frameError)
	fw.u64(seq)
	var flags byte
	if panicked {
		flags |= 1
	}
	fw.buf = append(fw.buf, flags)
	fw.u64(uint64(peakRSS))
	// Keep the message and stack within one frame whatever the handler said.
	const maxText = 1 << 20
	if len(msg) > maxText {
		msg = msg[:maxText]
	}
	if len(stack) > maxText {
		stack = stack[:maxText]
	}
	fw.u32(uint32(len(msg)))
	fw.buf = append(fw.buf, msg...)
	return fw.finish(stack)
}

func (fw *frameWriter) writeSplit(seq uint64) error {
	fw.begin(frameSplit)
	fw.u64(seq)
	return fw.finish(nil)
}

func (fw *frameWriter) writeKept(seq uint64, gaveUp []byte) error {
	fw.begin(frameKept)
	fw.u64(seq)
	return fw.finish(gaveUp)
}

func (fw *frameWriter) writeShutdown() error {
	fw.begin(frameShutdown)
	return fw.finish(nil)
}

// readMessage reads and decodes one frame. hdr is scratch space of at least
// headerSize bytes, so the steady state allocates only the body. It returns
// io.EOF only when the stream ends cleanly between frames; a stream that ends
// inside a frame gives io.ErrUnexpectedEOF.
func readMessage(r io.Reader, hdr []byte) (message, error) {
	if _, err := io.ReadFull(r, hdr[:headerSize]); err != nil {
		return message{}, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	typ := hdr[4]
	if n > MaxFrameSize {
		return message{}, fmt.Errorf("%w: type %d body length %d exceeds MaxFrameSize", errFrame, typ, n)
	}
	body, err := readBody(r, int(n))
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return message{}, fmt.Errorf("exec: reading body of frame type %d (%d bytes): %w", typ, n, err)
	}
	return decodeBody(typ, body)
}

// bodyChunk is the most readBody allocates ahead of the bytes it has read.
const bodyChunk = 8 << 20

// readBody reads an n-byte body. Bodies up to bodyChunk are allocated at
// once (the common case: one exact allocation); larger ones grow by doubling
// as bytes arrive, so a corrupt length costs at most bodyChunk or twice the
// bytes really sent, rather than MaxFrameSize up front.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= bodyChunk {
		body := make([]byte, n)
		_, err := io.ReadFull(r, body)
		return body, err
	}
	body := make([]byte, 0, bodyChunk)
	for len(body) < n {
		if len(body) == cap(body) {
			body = slices.Grow(body, min(cap(body), n-len(body)))
		}
		// Grow may round the capacity up; never read past this frame.
		k, err := io.ReadFull(r, body[len(body):min(cap(body), n)])
		body = body[:len(body)+k]
		if err != nil {
			if len(body) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return body, nil
}

// decoder consumes a frame body, remembering the first short read.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n int) []byte {
	if d.bad || len(d.b) < n {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) rest() []byte {
	v := d.b
	d.b = nil
	return v
}

func decodeBody(typ byte, body []byte) (message, error) {
	d := decoder{b: body}
	m := message{typ: typ}
	switch typ {
	case frameHello:
		m.version = d.u16()
		m.pid = int(d.u32())
	case frameTask:
		m.seq = d.u64()
		m.attempt = int(d.u32())
		m.id = string(d.take(int(d.u16())))
		m.kind = string(d.take(int(d.u16())))
		m.payload = d.rest()
	case frameCancel, frameSplit:
		m.seq = d.u64()
	case frameKept:
		m.seq = d.u64()
		m.payload = d.rest()
	case frameHeartbeat:
		m.seq = d.u64()
		m.done = int64(d.u64())
		m.total = int64(d.u64())
		m.peakRSS = int64(d.u64())
		m.text = string(d.take(int(d.u16())))
	case frameResult:
		m.seq = d.u64()
		m.peakRSS = int64(d.u64())
		m.payload = d.rest()
	case frameError:
		m.seq = d.u64()
		m.panic = d.u8()&1 != 0
		m.peakRSS = int64(d.u64())
		m.text = string(d.take(int(d.u32())))
		m.payload = d.rest()
	case frameShutdown:
	default:
		return message{}, fmt.Errorf("%w: unknown type %d (%d byte body)", errFrame, typ, len(body))
	}
	if d.bad {
		return message{}, fmt.Errorf("%w: type %d body of %d bytes is too short", errFrame, typ, len(body))
	}
	if len(d.b) != 0 {
		return message{}, fmt.Errorf("%w: type %d has %d trailing bytes", errFrame, typ, len(d.b))
	}
	return m, nil
}
