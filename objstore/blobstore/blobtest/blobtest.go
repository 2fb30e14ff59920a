// Package blobtest runs an S3 server (gofakes3, in memory) and a GCS
// server (fake-gcs-server, in memory) inside a test binary, and points the
// environment at them, so that s3:// and gs:// URLs reach them from the
// test and from the worker processes it starts.
package blobtest

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Servers are the running fakes.
type Servers struct {
	s3      *httptest.Server
	s3front *s3Front
	s3mem   *s3mem.Backend
	gcs     *fakestorage.Server
	envSave map[string]*string
}

// env are the variables Start sets: the SDKs read them in this process
// and in every worker process started after.
func env(s3URL, gcsHost string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":      s3URL,
		"AWS_ACCESS_KEY_ID":     "test",
		"AWS_SECRET_ACCESS_KEY": "test",
		"AWS_REGION":            "us-east-1",
		// Keep the SDK off ~/.aws and the instance metadata service.
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"STORAGE_EMULATOR_HOST":       gcsHost,
	}
}

// Start starts both servers and sets the environment; Stop undoes both.
// Call it once per test binary (from TestMain): the drivers keep their
// clients for the life of the process.
func Start() (*Servers, error) {
	mem := s3mem.New()
	faker := gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog()))
	front := &s3Front{next: faker.Server(), mem: mem}
	s := &Servers{s3: httptest.NewServer(front), s3front: front, s3mem: mem, envSave: map[string]*string{}}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: 0, Writer: io.Discard,
		// Reads go to the XML API at the emulator host, which the
		// server serves only for its public host name.
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		s.s3.Close()
		return nil, fmt.Errorf("blobtest: start the GCS server: %w", err)
	}
	s.gcs = gcs
	host := strings.TrimPrefix(gcs.URL(), "http://")
	for k, v := range env(s.s3.URL, host) {
		if old, ok := os.LookupEnv(k); ok {
			s.envSave[k] = &old
		} else {
			s.envSave[k] = nil
		}
		os.Setenv(k, v)
	}
	return s, nil
}

// Stop stops the servers and restores the environment.
func (s *Servers) Stop() {
	s.s3.Close()
	s.gcs.Stop()
	for k, v := range s.envSave {
		if v == nil {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, *v)
		}
	}
}

// Bucket creates a bucket named name in the store of scheme ("s3" or
// "gs") and returns its URL, "scheme://name".
func (s *Servers) Bucket(t testing.TB, scheme, name string) string {
	t.Helper()
	switch scheme {
	case "s3":
		if err := s.s3mem.CreateBucket(name); err != nil {
			t.Fatalf("create bucket s3://%s: %v", name, err)
		}
	case "gs":
		s.gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
	default:
		t.Fatalf("blobtest: unknown scheme %q", scheme)
	}
	return scheme + "://" + name
}

// InterceptS3 routes every request to the S3 server through f until the
// test ends; f serves it, calling next to reach the server (or not). The
// tests use it to hold requests at a barrier or lose an answer.
func (s *Servers) InterceptS3(t testing.TB, f func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	s.s3front.mu.Lock()
	s.s3front.intercept = f
	s.s3front.mu.Unlock()
	t.Cleanup(func() {
		s.s3front.mu.Lock()
		s.s3front.intercept = nil
		s.s3front.mu.Unlock()
	})
}

// PutS3 replaces an object straight in the S3 server's memory, as another
// client would, bypassing the HTTP front. (It deletes first: gofakes3
// would keep the old object's metadata, its checksum among them.)
func (s *Servers) PutS3(bucket, key string, data []byte) error {
	if _, err := s.s3mem.DeleteObject(bucket, key); err != nil {
		return err
	}
	_, err := s.s3mem.PutObject(bucket, key, map[string]string{}, strings.NewReader(string(data)), int64(len(data)), nil)
	return err
}

// s3Front serves gofakes3 with what it lacks of S3's conditional requests:
// gofakes3 checks If-None-Match and If-Match on PUT, but ignores If-Match
// on DELETE, which S3 honours (412 Precondition Failed when the ETag is
// another). Requests that change objects are served one at a time, so that
// a check and its write or delete are one step, as on S3.
type s3Front struct {
	next      http.Handler
	mem       *s3mem.Backend
	writes    sync.Mutex // held while a PUT, POST or DELETE is served
	mu        sync.Mutex // guards intercept
	intercept func(http.ResponseWriter, *http.Request, http.Handler)
}

func (f *s3Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	intercept := f.intercept
	f.mu.Unlock()
	if intercept != nil {
		intercept(w, r, http.HandlerFunc(f.serve))
		return
	}
	f.serve(w, r)
}

func (f *s3Front) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		f.next.ServeHTTP(w, r)
		return
	}
	f.writes.Lock()
	defer f.writes.Unlock()
	if match := r.Header.Get("If-Match"); r.Method == http.MethodDelete && match != "" {
		// Path-style: /bucket/key.
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		o, err := f.mem.HeadObject(bucket, key)
		if err != nil {
			http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
			return
		}
		if etag := `"` + hex.EncodeToString(o.Hash) + `"`; match != "*" && match != etag {
			http.Error(w, "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>",
				http.StatusPreconditionFailed)
			return
		}
	}
	f.next.ServeHTTP(w, r)
}
