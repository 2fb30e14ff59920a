// Package objstore lets Quern read and write objects in an object store
// (s3://bucket/key, gs://bucket/key) wherever it reads and writes files.
//
// The package holds only the small interface the input, output and commit
// code needs (a ranged read, attributes, a recursive listing, a writer,
// copy and delete) and a registry of drivers by URL scheme. The drivers
// live elsewhere, so that the cloud SDKs stay out of the import graph of
// the core packages: a binary that wants S3 and GCS imports
// github.com/quern-dev/quern/objstore/blobstore for its side effect, as
// cmd/quern and quern-beam do.
//
// Object stores have no rename and no directories. A "directory" here is a
// prefix: s3://b/logs stands for every object whose key starts with
// "logs/". How a job's output is committed without rename is said in
// docs/reliability.md ("Object stores").
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"
)

// ErrNoDriver is wrapped by the error of [Open] for a URL whose scheme no
// driver was registered for in this binary.
var ErrNoDriver = errors.New("objstore: no driver for this URL scheme")

// ErrBadURL is wrapped by the error of [Parse] for a URL without a bucket.
var ErrBadURL = errors.New("objstore: malformed object URL")

// Attrs describes one object.
type Attrs struct {
	// Key is the object's name in its bucket.
	Key  string
	Size int64
	// ModTime is when the object was last written.
	ModTime time.Time
	// Version changes whenever the object's content does: the ETag on
	// S3, the generation on GCS. "" if the store does not say.
	Version string
}

// Reader reads a byte range of one object. Attrs are those of the object
// version being read, so that a reader can check it reads what was planned.
type Reader interface {
	io.ReadCloser
	Attrs() Attrs
}

// Store is one bucket of an object store. Errors for a missing object or
// bucket wrap [fs.ErrNotExist].
type Store interface {
	// Attrs returns the attributes of the object key.
	Attrs(ctx context.Context, key string) (Attrs, error)
	// List returns every object whose key starts with prefix, in key
	// order, however deep ("/" is not special).
	List(ctx context.Context, prefix string) ([]Attrs, error)
	// NewRangeReader reads length bytes of key from offset on; a negative
	// length reads to the end.
	NewRangeReader(ctx context.Context, key string, offset, length int64) (Reader, error)
	// NewWriter writes key. The object appears, whole, when Close returns
	// nil, and never if ctx is cancelled before Close.
	NewWriter(ctx context.Context, key string) (io.WriteCloser, error)
	// WriteIf writes data as key if key's version is version, or, for
	// version "", if key does not exist, and returns the new object's
	// attributes. Otherwise the error wraps [ErrPrecondition] and the
	// object is left alone. Of two writes conditional on the same state,
	// at most one succeeds.
	WriteIf(ctx context.Context, key, version string, data []byte) (Attrs, error)
	// Copy copies the object src to dst within the bucket, server side.
	Copy(ctx context.Context, dst, src string) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteIf removes key if its version is version; otherwise the
	// error wraps [ErrPrecondition] and the object is left alone. The
	// store checks the condition with the delete, in one request (S3's
	// If-Match, GCS's ifGenerationMatch). A missing key is not an error.
	DeleteIf(ctx context.Context, key, version string) error
}

// Opener opens the bucket named bucket of one scheme.
type Opener func(ctx context.Context, bucket string) (Store, error)

var (
	mu      sync.Mutex
	openers = map[string]Opener{}
	stores  = map[string]Store{} // scheme://bucket -> its open Store
)

// Register makes the scheme's buckets openable by [Open]. Drivers call it
// from init.
func Register(scheme string, o Opener) {
	mu.Lock()
	defer mu.Unlock()
	openers[scheme] = o
}

// IsURL reports whether path is an object URL, "scheme://...", rather than
// a file path. Any scheme of letters and digits counts, registered or not,
// so that a URL of a scheme this binary cannot open is reported as such
// instead of as a missing file.
func IsURL(path string) bool {
	i := strings.Index(path, "://")
	if i <= 0 {
		return false
	}
	for _, c := range path[:i] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// URL is a parsed object URL: scheme://Bucket/Key.
type URL struct {
	Scheme, Bucket, Key string
}

// Parse splits an object URL into its scheme, bucket and key. The key has
// no leading "/" and may be empty (the whole bucket).
func Parse(u string) (URL, error) {
	if !IsURL(u) {
		return URL{}, fmt.Errorf("%w: %q is not scheme://bucket/key", ErrBadURL, u)
	}
	i := strings.Index(u, "://")
	rest := u[i+3:]
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return URL{}, fmt.Errorf("%w: %q names no bucket", ErrBadURL, u)
	}
	return URL{Scheme: strings.ToLower(u[:i]), Bucket: bucket, Key: key}, nil
}

// String returns scheme://bucket/key.
func (u URL) String() string { return u.Scheme + "://" + u.Bucket + "/" + u.Key }

// Join returns the URL of key in u's bucket.
func (u URL) Join(key string) string { return URL{u.Scheme, u.Bucket, key}.String() }

// Dir returns u as a prefix: its key with one trailing "/" ("" for the
// whole bucket), the form a listing of a "directory" needs.
func (u URL) Dir() string {
	if u.Key == "" {
		return ""
	}
	return strings.TrimSuffix(u.Key, "/") + "/"
}

// Open returns the Store of u's bucket and u parsed. Stores are opened
// once per process and bucket and stay open: they hold HTTP clients that
// later reads reuse.
func Open(ctx context.Context, u string) (Store, URL, error) {
	pu, err := Parse(u)
	if err != nil {
		return nil, URL{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	id := pu.Scheme + "://" + pu.Bucket
	if s, ok := stores[id]; ok {
		return s, pu, nil
	}
	o, ok := openers[pu.Scheme]
	if !ok {
		return nil, URL{}, fmt.Errorf("%w: %s (this binary reads %s)", ErrNoDriver, u, schemes())
	}
	s, err := o(ctx, pu.Bucket)
	if err != nil {
		return nil, URL{}, fmt.Errorf("objstore: open bucket %s: %w", id, err)
	}
	stores[id] = s
	return s, pu, nil
}

// schemes lists the registered schemes, for an error message. mu is held.
func schemes() string {
	var s []string
	for k := range openers {
		s = append(s, k+"://")
	}
	if len(s) == 0 {
		return "no object store: its drivers are not linked in"
	}
	return strings.Join(s, " and ")
}

// NotExist wraps err, about url, so that it matches fs.ErrNotExist and
// names the object; drivers use it for a missing object or bucket.
func NotExist(url string, err error) error {
	return &fs.PathError{Op: "open", Path: url, Err: fmt.Errorf("%w (%v)", fs.ErrNotExist, err)}
}
