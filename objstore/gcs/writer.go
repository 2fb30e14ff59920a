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

// put sends the buffer at offset sent, as the last chunk when last is set.
// GCS answers 308 with the bytes it kept (Range: bytes=0-LAST) while the
// upload goes on, and 200 or 201 when the object is complete.
func (w *writer) put(last bool) error {
	n := int64(len(w.buf))
	total := "*"
	if last {
		total = strconv.FormatInt(w.sent+n, 10)
	}
	cr := fmt.Sprintf("bytes %d-%d/%s", w.sent, w.sent+n-1, total)
	if n == 0 {
		cr = "bytes */" + total
	}
	resp, err := w.s.do(w.ctx, http.MethodPut, w.session, http.Header{"Content-Range": {cr}}, w.buf)
	if err != nil {
		return w.s.wrap(w.key, fmt.Errorf("uploading bytes %d to %d: %w", w.sent, w.sent+n, err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusPermanentRedirect {
		if !last {
			return fmt.Errorf("%s: the upload ended after %d bytes, before its last chunk", w.s.name(w.key), w.sent+n)
		}
		w.sent += n
		w.buf = w.buf[:0]
		return nil
	}
	if last {
		return fmt.Errorf("%s: GCS still waits for bytes after the last chunk (%s)", w.s.name(w.key), resp.Header.Get("Range"))
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
		return fmt.Errorf("%s: GCS kept %d bytes, having had %d and been sent %d more", w.s.name(w.key), kept, w.sent, n)
	}
	// Whatever GCS did not keep is sent again with the next chunk.
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
