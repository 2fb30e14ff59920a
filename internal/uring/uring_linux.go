package uring

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ReadFiles reads each file of reads whole into its Buf, as its Read says,
// a batch of files at a time, and calls stat(i, fd) with the descriptor of
// reads[i] after its read and before its close, so that the caller can
// stat the file it read (a file that grew or was rewritten while it was
// read then shows); stat's error becomes the Read's Err. An error of one
// file is in its Read.Err. ReadFiles returns an error only if the ring
// cannot be used, one matching [errors.ErrUnsupported] if it never could
// on this machine; the Reads' results are then undefined, and the caller
// reads the files itself.
//
// Calls from several goroutines take turns on one ring.
func ReadFiles(reads []Read, stat func(i, fd int) error) error {
	setupOnce.Do(func() { shared, setupErr = newRing(ringEntries) })
	if setupErr != nil {
		return setupErr
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for from := 0; from < len(reads); from += batchFiles {
		batch := reads[from:min(from+batchFiles, len(reads))]
		err := shared.readBatch(batch, func(i, fd int) error { return stat(from+i, fd) })
		if err != nil {
			return err
		}
	}
	return nil
}

const (
	// batchFiles bounds the files of one batch, and so the operations
	// queued at once: one a file.
	batchFiles  = 64
	ringEntries = batchFiles
)

var (
	setupOnce sync.Once
	shared    *ring
	setupErr  error
)

// The kernel's interface, from include/uapi/linux/io_uring.h.
const (
	sysSetup    = 425 // io_uring_setup(entries, *params)
	sysEnter    = 426 // io_uring_enter(fd, to_submit, min_complete, flags, sig, sigsz)
	sysRegister = 427 // io_uring_register(fd, opcode, arg, nr_args)

	offSQRing = 0
	offSQEs   = 0x10000000

	featSingleMmap = 1 << 0 // the SQ and CQ rings share one mapping

	enterGetEvents = 1 << 0

	registerProbe = 8
	opSupported   = 1 << 0

	opOpenat = 18
	opClose  = 19
	opRead   = 22
)

// sqRingOffsets and cqRingOffsets are struct io_sqring_offsets and
// io_cqring_offsets: where in the mapped rings each field is.
type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

// sqe is struct io_uring_sqe, a submission: 64 bytes.
type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	opFlags  uint32 // open_flags, rw_flags
	userData uint64
	bufIndex uint16
	persona  uint16
	fileIdx  uint32
	addr3    uint64
	_        uint64
}

// cqe is struct io_uring_cqe, a completion: 16 bytes.
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// The kernel's structures have these sizes on every architecture.
var (
	_ [64]byte  = [unsafe.Sizeof(sqe{})]byte{}
	_ [16]byte  = [unsafe.Sizeof(cqe{})]byte{}
	_ [120]byte = [unsafe.Sizeof(params{})]byte{}
)

// ring is one io_uring with what a batch needs kept from batch to batch.
type ring struct {
	mu     sync.Mutex
	fd     int
	mapped [][]byte // the mappings shared with the kernel
	// broken is set when an entry to the kernel failed in a way no retry
	// mends; from then on ReadFiles returns it.
	broken error

	sqTail, sqMask         *uint32
	sqArray                []uint32
	sqes                   []sqe
	cqHead, cqTail, cqMask *uint32
	cqes                   []cqe
	pending                uint32 // submissions queued, not yet entered

	// For one batch: its reads, the NUL-terminated paths and where each
	// starts, and each file's descriptor (negative if it could not be
	// opened).
	reads  []Read
	paths  []byte
	starts []int
	fds    []int32
}

// newRing sets up a ring of entries submissions, or returns an error
// matching errors.ErrUnsupported.
func newRing(entries uint32) (*ring, error) {
	var p params
	fd, _, errno := syscall.Syscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w (%w)", errno, errors.ErrUnsupported)
	}
	r := &ring{fd: int(fd)}
	err := r.mapRings(&p)
	if err == nil {
		err = r.probe(opOpenat, opRead, opClose)
	}
	if err != nil {
		r.release()
		return nil, fmt.Errorf("io_uring: %w (%w)", err, errors.ErrUnsupported)
	}
	return r, nil
}

// release unmaps what mapRings mapped and closes the ring, which setup
// found unusable.
func (r *ring) release() {
	for _, m := range r.mapped {
		unix.Munmap(m)
	}
	syscall.Close(r.fd)
}

// mapRings maps the submission and completion rings and the submission
// array into memory shared with the kernel. The mappings live as long as
// the process: the ring is never torn down.
func (r *ring) mapRings(p *params) error {
	if p.features&featSingleMmap == 0 {
		return errors.New("kernel too old (no IORING_FEAT_SINGLE_MMAP, before 5.4)")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	rings, err := unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap rings: %w", err)
	}
	r.mapped = append(r.mapped, rings)
	sqes, err := unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap submissions: %w", err)
	}
	r.mapped = append(r.mapped, sqes)
	base := unsafe.Pointer(unsafe.SliceData(rings))
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	// The submission ring's head is the kernel's to move; it need not be
	// read, since at most ringEntries are queued between entries.
	r.sqTail, r.sqMask = at(p.sqOff.tail), at(p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(at(p.sqOff.array), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = at(p.cqOff.head), at(p.cqOff.tail), at(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(unsafe.SliceData(sqes))), p.sqEntries)
	return nil
}

// probe returns an error unless the kernel supports every one of ops (a
// kernel can have io_uring and lack an operation: OPENAT, CLOSE and READ
// came in 5.6).
func (r *ring) probe(ops ...uint8) error {
	const maxOps = 256
	// struct io_uring_probe: a 16-byte head, then 8 bytes per operation
	// (op, resv, flags, resv2).
	var buf [16 + 8*maxOps]byte
	_, _, errno := syscall.Syscall6(sysRegister, uintptr(r.fd), registerProbe, uintptr(unsafe.Pointer(&buf[0])), maxOps, 0, 0)
	if errno != 0 {
		return fmt.Errorf("probe: %w", errno)
	}
	opsLen := int(buf[1])
	for _, op := range ops {
		at := 16 + 8*int(op)
		flags := uint16(buf[at+2]) | uint16(buf[at+3])<<8
		if int(op) >= opsLen || flags&opSupported == 0 {
			return fmt.Errorf("operation %d not supported", op)
		}
	}
	return nil
}

// readBatch reads reads, at most batchFiles of them: one entry to the
// kernel opens every file, one reads every file opened, stat is called for
// each, and one entry closes them all.
//
// The stat is the caller's (an fstat system call), not a statx operation
// in the ring: the kernel hands every statx to a worker thread of the ring
// (it may block on a path lookup), and over a folder of tiny files those
// hand-offs cost more than the calls they saved (20,000 more context
// switches and a slower map phase in a word count over 26,214 files).
func (r *ring) readBatch(reads []Read, stat func(i, fd int) error) error {
	if r.broken != nil {
		return r.broken
	}
	// The submissions hold the buffers' addresses as integers, which the
	// garbage collector neither sees nor updates. Heap memory does not
	// move, but a goroutine's stack does when it grows: held by the ring,
	// which is on the heap, every buffer reachable from reads is placed
	// on the heap by the compiler.
	r.reads = reads
	defer func() { r.reads = nil }()
	r.paths, r.starts = r.paths[:0], r.starts[:0]
	for _, rd := range reads {
		r.starts = append(r.starts, len(r.paths))
		r.paths = append(append(r.paths, rd.Path...), 0)
	}
	r.fds = slices.Grow(r.fds[:0], len(reads))[:len(reads)]

	for i := range reads {
		r.push(sqe{
			opcode:   opOpenat,
			fd:       unix.AT_FDCWD,
			addr:     uint64(uintptr(unsafe.Pointer(&r.paths[r.starts[i]]))),
			opFlags:  unix.O_RDONLY | unix.O_CLOEXEC,
			userData: uint64(i),
		})
	}
	err := r.complete(len(reads), func(c cqe) {
		rd := &r.reads[c.userData]
		r.fds[c.userData] = c.res
		if c.res < 0 {
			rd.Err = &fs.PathError{Op: "open", Path: rd.Path, Err: syscall.Errno(-c.res)}
		}
	})
	if err != nil {
		return err
	}

	opened := 0
	for i, fd := range r.fds {
		if fd < 0 {
			continue
		}
		opened++
		buf := reads[i].Buf
		r.push(sqe{
			opcode:   opRead,
			fd:       fd,
			addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))),
			len:      uint32(len(buf)),
			userData: uint64(i),
		})
	}
	err = r.complete(opened, func(c cqe) {
		rd := &r.reads[c.userData]
		if c.res < 0 {
			rd.Err = &fs.PathError{Op: "read", Path: rd.Path, Err: syscall.Errno(-c.res)}
			return
		}
		rd.N = int(c.res)
	})
	if err != nil {
		return err
	}

	for i, fd := range r.fds {
		if fd < 0 {
			continue
		}
		if reads[i].Err == nil {
			reads[i].Err = stat(i, int(fd))
		}
		r.push(sqe{opcode: opClose, fd: fd, userData: uint64(i)})
	}
	// A file opened for reading has nothing to lose at its close: its
	// result is not looked at.
	return r.complete(opened, func(cqe) {})
}

// push queues one submission. The caller queues at most ringEntries
// between entries to the kernel.
func (r *ring) push(s sqe) {
	tail := *r.sqTail // only this process writes the tail
	i := tail & *r.sqMask
	r.sqes[i] = s
	r.sqArray[i] = i
	atomic.StoreUint32(r.sqTail, tail+1) // the kernel reads the entry after the tail
	r.pending++
}

// complete submits what is queued and hands each of want completions to
// use, waiting for them in the kernel. An error breaks the ring: the
// descriptors its operations opened are left open, since closing them
// while the kernel might still could close another file's descriptor.
func (r *ring) complete(want int, use func(cqe)) error {
	for want > 0 {
		n, _, errno := syscall.Syscall6(sysEnter, uintptr(r.fd), uintptr(r.pending), uintptr(want), enterGetEvents, 0, 0)
		switch errno {
		case 0:
			r.pending -= uint32(n)
		case syscall.EINTR, syscall.EAGAIN, syscall.EBUSY:
			// Interrupted (the Go runtime's preemption signal) or short
			// of memory for a moment: enter again.
		default:
			r.broken = fmt.Errorf("io_uring_enter: %w", errno)
			return r.broken
		}
		head, tail := *r.cqHead, atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			use(r.cqes[head&*r.cqMask])
			want--
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	return nil
}
