package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// NewWriter writes key. Up to one chunk (chunkSize) is held in memory and
// sent in one request at Close; past that the upload is resumable: a
// session is opened and each full chunk is sent as it fills, the last one
// at Close. GCS makes the object visible only when the last request of an
// upload succeeds, so a writer whose ctx is cancelled, or that is never
// closed, leaves nothing behind (an open session expires after a week).
func (s *Store) NewWriter(ctx context.Context, key string) (io.WriteCloser, error) {
	return &writer{s: s, ctx: ctx, key: key}, nil
}

type writer struct {
	s   *Store
	ctx context.Context
	key string

	buf     []byte
	session string // the resumable upload's URL, once opened
	sent    int64  // bytes the session holds
	done    bool   // the session's object is complete
	err     error  // the first failure; every later call returns it
	closed  bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, fmt.Errorf("%s: write after close", w.s.name(w.key))
	}
	n := len(p)
	for len(p) > 0 {
		room := w.s.chunkSize - len(w.buf)
		if room == 0 {
			// Send a full chunk only when more bytes follow, so that the
			// last request always carries data and the object's size.
			if w.err = w.flush(); w.err != nil {
				return 0, w.err
			}
			continue
		}
		k := min(room, len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

// flush sends the buffer, one full chunk, to the resumable session,
// opening it first if need be.
func (w *writer) flush() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.session == "" {
		if err := w.open(); err != nil {
			return err
		}
	}
	return w.put(false)
}

// open starts a resumable upload; its URL comes back in Location.
func (w *writer) open() error {
	q := url.Values{"uploadType": {"resumable"}, "name": {w.key}}
	h := http.Header{"Content-Type": {"application/json"}}
	resp, err := w.s.do(w.ctx, http.MethodPost, w.s.url("/upload/storage/v1", "/o", q), h, []byte("{}"))
	if err != nil {
		return w.s.wrap(w.key, fmt.Errorf("opening a resumable upload: %w", err))
	}
	resp.Body.Close()
	w.session = resp.Header.Get("Location")
	if w.session == "" {
		return fmt.Errorf("%s: the resumable upload came back with no Location", w.s.name(w.key))
	}
	return nil
}

// put sends the buffer, the object's bytes from offset sent on, to the
// resumable session, as the last chunk when last is set, until GCS has
// kept some of it (or, for the last chunk, the object is complete).
//
// A try that fails in a way that may pass if tried again (a network error,
// 408, 429, 5xx) may have reached GCS all the same, its answer lost on the
// way back: the session may hold all, part or none of the bytes sent. So,
// as Google documents for resuming an upload, put first asks the session
// what it holds (a PUT of no bytes with Content-Range: bytes */TOTAL, or
// bytes */* while the total is unknown), then sends only the bytes after
// those. Sending the chunk again blindly could repeat bytes the session
// already has, which a server that appends what it is sent (as
// fake-gcs-server does) takes as more data.
func (w *writer) put(last bool) error {
	wait := firstBackoff
	for try := 1; ; try++ {
		start := w.sent
		resp, err := w.s.try(w.ctx, http.MethodPut, w.session, http.Header{"Content-Range": {w.contentRange(last, false)}}, w.buf)
		if err == nil {
			err = w.settle(resp, last)
		}
		if err == nil && w.progressed(start, last) {
			return nil
		}
		if err != nil && !mayPass(w.ctx, err) {
			return w.s.wrap(w.key, fmt.Errorf("uploading bytes %d to %d: %w", start, start+int64(len(w.buf)), err))
		}
		if try == tries {
			if err == nil {
				err = fmt.Errorf("GCS kept none of them %d times", tries)
			}
			return w.s.wrap(w.key, fmt.Errorf("uploading bytes %d to %d: %w", start, start+int64(len(w.buf)), err))
		}
		if err == nil {
			continue // an answer that kept nothing: send the rest again
		}
		if err := pause(w.ctx, &wait); err != nil {
			return err
		}
		// The answer was lost: ask what the session holds.
		resp, err = w.s.do(w.ctx, http.MethodPut, w.session, http.Header{"Content-Range": {w.contentRange(last, true)}}, nil)
		if err == nil {
			err = w.settle(resp, last)
		}
		if err != nil {
			return w.s.wrap(w.key, fmt.Errorf("asking the upload's status after bytes %d to %d were sent: %w", start, start+int64(len(w.buf)), err))
		}
		if w.progressed(start, last) {
			return nil
		}
	}
}

// contentRange is the Content-Range of a PUT to the session: the buffer's
// bytes, or none for a status query, with the object's size once last.
func (w *writer) contentRange(last, query bool) string {
	n := int64(len(w.buf))
	total := "*"
	if last {
		total = strconv.FormatInt(w.sent+n, 10)
	}
	if query || n == 0 {
		return "bytes */" + total
	}
	return fmt.Sprintf("bytes %d-%d/%s", w.sent, w.sent+n-1, total)
}

// progressed says whether put is done: the object is complete after the
// last chunk, or GCS kept some bytes of a chunk (the rest goes with the
// next one).
func (w *writer) progressed(start int64, last bool) bool {
	if last {
		return w.done
	}
	return w.sent > start
}

// settle reads GCS's answer to a PUT to the session (a chunk or a status
// query): 200 or 201 when the object is complete, 308 with the bytes the
// session holds (Range: bytes=0-LAST, none if it holds none) while the
// upload goes on. It drops the bytes GCS holds from the buffer, so that
// only those it lacks are sent again.
func (w *writer) settle(resp *http.Response, last bool) error {
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	n := int64(len(w.buf))
	if resp.StatusCode != http.StatusPermanentRedirect {
		if !last {
			return fmt.Errorf("%s: the upload ended after %d bytes, before its last chunk", w.s.name(w.key), w.sent+n)
		}
		w.sent += n
		w.buf = w.buf[:0]
		w.done = true
		return nil
	}
	kept := int64(0)
	if r := resp.Header.Get("Range"); r != "" {
		_, end, ok := strings.Cut(strings.TrimPrefix(r, "bytes="), "-")
		e, err := strconv.ParseInt(end, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("%s: bad Range %q in GCS's answer", w.s.name(w.key), r)
		}
		kept = e + 1
	}
	if kept < w.sent || kept > w.sent+n {
		return fmt.Errorf("%s: GCS holds %d bytes of the upload, having had %d and been sent %d more", w.s.name(w.key), kept, w.sent, n)
	}
	rest := copy(w.buf, w.buf[kept-w.sent:])
	w.buf = w.buf[:rest]
	w.sent = kept
	return nil
}

// Close sends what is left: the whole object in one request if no chunk
// went before, else the session's last chunk.
func (w *writer) Close() error {
	if w.closed {
		return errors.Join(w.err, fmt.Errorf("%s: closed twice", w.s.name(w.key)))
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return err
	}
	if w.session == "" {
		_, w.err = w.s.upload(w.ctx, w.key, w.buf, nil)
		if w.err != nil {
			w.err = w.s.wrap(w.key, w.err)
		}
	} else {
		w.err = w.put(true)
	}
	w.buf = nil
	return w.err
}
