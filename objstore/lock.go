package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// The lock on an output prefix.
//
// A local output directory is locked with an advisory file lock, which the
// kernel drops when its holder dies. An object store has no such thing, so
// a job takes an output prefix by creating the object OUT/_quern-lock with
// a conditional write that fails if the object exists (S3's
// If-None-Match: *, GCS's ifGenerationMatch=0): of two jobs that start
// on one prefix, exactly one creates it, and the other is refused with the
// holder's name. The holder deletes the lock when its job is over,
// committed or not.
//
// A holder killed before it could delete its lock leaves it behind. The
// object names its holder (Holder, as JSON), so that:
//
//   - a job started on the same host takes over a lock whose holder
//     process is gone (its pid is free, or now another process's), by a
//     write conditional on the stale lock's version, so that of two jobs
//     that find the same stale lock only one takes it;
//   - a job on another host cannot tell a dead holder from a live one: it
//     is refused with a message that names the holder and the lock object
//     to delete once the user knows that job is gone.

// LockName is the lock object in an output prefix; it exists while a job
// writes the prefix.
const LockName = "_quern-lock"

// ErrLocked is wrapped by AcquireLock's error when another job holds the
// prefix.
var ErrLocked = errors.New("in use by another quern job")

// ErrPrecondition is wrapped by Store.WriteIf's error when the object is
// not in the state the write was conditional on.
var ErrPrecondition = errors.New("objstore: the object changed (conditional write refused)")

// Holder is who holds an output prefix, the content of its lock object.
type Holder struct {
	Job  string `json:"job"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Process identifies the holder process on its host better than the
	// pid alone, which is reused (on Linux: the pid and the process's
	// start time); see the alive func of AcquireLock.
	Process string    `json:"process"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("job %q, pid %d on host %s, since %s", h.Job, h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// OutputLock is a held lock on an output prefix.
type OutputLock struct {
	s       Store
	key     string
	url     string // of the lock object, for messages
	version string // of our lock object, to delete only our own
	// Stale is the dead holder whose lock this one replaced, if any, for
	// the caller to say so.
	Stale *Holder
}

// AcquireLock takes the output prefix out for the holder me. alive reports
// whether a holder on this host (me.Host) still runs; it is asked only
// about such holders. The error for a prefix another job holds wraps
// ErrLocked and names the holder and what to do.
func AcquireLock(ctx context.Context, out string, me Holder, alive func(Holder) bool) (*OutputLock, error) {
	s, u, err := Open(ctx, out)
	if err != nil {
		return nil, err
	}
	if u.Key == "" {
		return nil, fmt.Errorf("%w: output %s is a whole bucket; name a prefix in it, e.g. %s", ErrOutput, out, u.Join("out"))
	}
	me.Since = me.Since.UTC()
	data, err := json.Marshal(me)
	if err != nil {
		return nil, err
	}
	l := &OutputLock{s: s, key: u.Dir() + LockName, url: u.Join(u.Dir() + LockName)}
	// A few rounds: the holder found may release, or another job take
	// over a stale lock, between our reads and writes.
	for range 5 {
		a, err := s.WriteIf(ctx, l.key, "", data)
		if err == nil {
			l.version = a.Version
			return l, nil
		}
		if !errors.Is(err, ErrPrecondition) {
			return nil, fmt.Errorf("objstore: lock output %s: %w", out, err)
		}
		holder, raw, version, err := readLock(ctx, s, l.key)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("objstore: lock output %s: read %s: %w", out, l.url, err)
		}
		if bytes.Equal(raw, data) {
			// Our own create: the store made the object but its answer
			// was lost, and the retried write found it (Process tells
			// this process from any other).
			l.version = version
			return l, nil
		}
		if holder.Host != me.Host || holder.Host == "" || alive(holder) {
			return nil, fmt.Errorf("%w: output %s is %w (%s); wait for it to finish or choose another output. "+
				"If that job is no longer running (it was killed), delete the lock object %s and run again",
				ErrOutput, out, ErrLocked, holder, l.url)
		}
		a, err = s.WriteIf(ctx, l.key, version, data)
		if err == nil {
			l.version, l.Stale = a.Version, &holder
			return l, nil
		}
		if !errors.Is(err, ErrPrecondition) {
			return nil, fmt.Errorf("objstore: lock output %s: replace the stale lock %s: %w", out, l.url, err)
		}
	}
	return nil, fmt.Errorf("%w: output %s is %w: its lock %s changed hands five times while this job tried to take it", ErrOutput, out, ErrLocked, l.url)
}

// readLock returns the holder a lock object names, the object's bytes and
// the version read. An unreadable lock names an unknown holder (never
// taken for dead).
func readLock(ctx context.Context, s Store, key string) (Holder, []byte, string, error) {
	r, err := s.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		return Holder{}, nil, "", err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return Holder{}, nil, "", err
	}
	var h Holder
	if json.Unmarshal(data, &h) != nil {
		h = Holder{Job: "unknown (unreadable lock)"}
	}
	return h, data, r.Attrs().Version, nil
}

// Release deletes the lock object, unless another job took it over
// meanwhile (it found this holder dead, or a user deleted the lock and
// another job took the prefix): then it is no longer ours. The delete is
// conditional on our lock's version, checked by the store with the delete
// (S3's If-Match, GCS's generation), so it never removes another job's
// lock. An S3-compatible server that ignores If-Match on DELETE would
// delete whatever is there: for it, the version read first narrows the
// window to the time between that read and the delete.
func (l *OutputLock) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	a, err := l.s.Attrs(ctx, l.key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("objstore: release the lock %s: %w", l.url, err)
	}
	if a.Version != l.version {
		return nil
	}
	err = l.s.DeleteIf(ctx, l.key, l.version)
	if err != nil && !errors.Is(err, ErrPrecondition) {
		return fmt.Errorf("objstore: release the lock %s: %w", l.url, err)
	}
	return nil
}
