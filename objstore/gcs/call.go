package gcs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// statusError is an answer of the API other than success.
type statusError struct {
	method, url string
	code        int
	message     string // the API's own words, when it gave some
}

func (e *statusError) Error() string {
	if e.message != "" {
		return fmt.Sprintf("%s: %d %s: %s", e.method, e.code, http.StatusText(e.code), e.message)
	}
	return fmt.Sprintf("%s: %d %s", e.method, e.code, http.StatusText(e.code))
}

// retryable says whether an answer may change if asked again: GCS's
// guidance is to retry 408, 429 and 5xx with backoff.
func retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// tries is how many times a request is sent before its error is returned.
const tries = 5

// firstBackoff is the wait before the second try; it doubles after each.
// A variable for the tests.
var firstBackoff = 100 * time.Millisecond

// do sends a request and returns the response of a 2xx or 308 answer; any
// other answer is a *statusError. A request whose answer may change if
// asked again (a network error, 408, 429, 5xx) is sent up to tries times,
// with a growing wait between. Every request sent through do may be
// repeated safely: reads, deletes, rewrites, uploads of a whole body,
// status queries of a resumable upload, and conditional writes (a retried
// one whose first try succeeded unseen is refused as a precondition
// failure, which objstore.AcquireLock recognises by the content). A chunk
// of a resumable upload is not sent through do: after a lost answer the
// session may hold all, part or none of it, so the writer asks it before
// sending again (writer.put). body is sent as is; the caller closes the
// response's body.
func (s *Store) do(ctx context.Context, method, url string, h http.Header, body []byte) (*http.Response, error) {
	wait := firstBackoff
	for try := 1; ; try++ {
		resp, err := s.try(ctx, method, url, h, body)
		if err == nil || !mayPass(ctx, err) || try == tries {
			return resp, err
		}
		if pause(ctx, &wait) != nil {
			return nil, err
		}
	}
}

// mayPass says whether a request that failed with err may succeed if sent
// again: a network error, or an answer GCS says to retry (retryable).
func mayPass(ctx context.Context, err error) bool {
	var se *statusError
	return ctx.Err() == nil && (!errors.As(err, &se) || retryable(se.code))
}

// pause waits *wait before the next try, unless ctx ends first, and
// doubles *wait.
func pause(ctx context.Context, wait *time.Duration) error {
	t := time.NewTimer(*wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	*wait *= 2
	return nil
}

// try sends the request once.
func (s *Store) try(ctx context.Context, method, url string, h http.Header, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "quern")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusPermanentRedirect {
		return resp, nil
	}
	defer resp.Body.Close()
	se := &statusError{method: method, url: url, code: resp.StatusCode}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if json.Unmarshal(msg, &e) == nil && e.Error.Message != "" {
		se.message = e.Error.Message
	} else {
		se.message = string(bytes.TrimSpace(msg))
	}
	return nil, se
}

// callJSON sends a request with a JSON body (or none) and decodes the JSON
// answer into out (unless out is nil).
func (s *Store) callJSON(ctx context.Context, method, url string, body []byte, out any) error {
	var h http.Header
	if body != nil {
		h = http.Header{"Content-Type": {"application/json"}}
	}
	return s.callJSONHeader(ctx, method, url, h, body, out)
}

func (s *Store) callJSONHeader(ctx context.Context, method, url string, h http.Header, body []byte, out any) error {
	resp, err := s.do(ctx, method, url, h, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", method, err)
	}
	return nil
}
