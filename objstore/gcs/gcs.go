// Package gcs is the gs:// driver of package objstore: Google Cloud
// Storage through its JSON API, over net/http, with credentials from
// golang.org/x/oauth2/google.
//
// Why not cloud.google.com/go/storage: that client links gRPC, its xDS
// balancer, the Envoy and Google API protobuf descriptors and OpenTelemetry,
// and Go runs every linked package's init in every process. Quern's driver
// and each of its workers (the same binary re-executed) paid about 25 ms of
// CPU and 1,000 page faults for them at start, a third of a small job's
// CPU, although Quern needs seven calls of the API: get an object's
// metadata, list a prefix, read a byte range, upload (in one request or in
// resumable chunks), upload on a generation precondition, rewrite (copy)
// and delete.
//
// Credentials are Application Default Credentials, as Google's own clients
// find them: GOOGLE_APPLICATION_CREDENTIALS (a service account key, or an
// external account for workload identity federation), gcloud's
// application-default login, or the metadata server on Google Cloud. With
// STORAGE_EMULATOR_HOST set (host:port or a URL), requests go to that
// emulator, with no credentials.
//
// Versions are generations, which change with every write of an object's
// content (an ETag changes with its metadata too).
package gcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/quern-dev/quern/objstore"
)

// scope lets the credentials read, write and delete objects.
const scope = "https://www.googleapis.com/auth/devstorage.read_write"

// defaultEndpoint serves the JSON API on Google Cloud.
const defaultEndpoint = "https://storage.googleapis.com"

// Store is one bucket. It implements objstore.Store.
type Store struct {
	client   *http.Client
	endpoint string // scheme://host, no trailing slash
	bucket   string
	// chunkSize is the part of an upload sent per request once an object
	// outgrows it (then the upload is resumable); a multiple of 256 KiB,
	// as GCS requires of every chunk but the last.
	chunkSize int
	// pageSize is the largest listing page asked for.
	pageSize int
}

var _ objstore.Store = (*Store)(nil)

// Open returns the bucket named bucket, with the credentials and endpoint
// the environment gives (see the package comment). It sends no request:
// a missing bucket shows at the first call.
func Open(ctx context.Context, bucket string) (*Store, error) {
	// No compression: a read's Content-Length must be the object's bytes,
	// and Go's transparent gunzip would hide it.
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DisableCompression = true
	var rt http.RoundTripper = base
	endpoint := defaultEndpoint
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
		endpoint = strings.TrimSuffix(host, "/")
		if !strings.Contains(endpoint, "://") {
			endpoint = "http://" + endpoint
		}
	} else {
		// The token source outlives ctx, which may be one job's: later
		// refreshes must not fail because that job ended.
		creds, err := google.FindDefaultCredentials(context.WithoutCancel(ctx), scope)
		if err != nil {
			return nil, fmt.Errorf("gs://%s: Google Cloud credentials: %w", bucket, err)
		}
		rt = &oauth2.Transport{Source: creds.TokenSource, Base: base}
	}
	return &Store{
		client: &http.Client{
			Transport: rt,
			// A resumable upload's "308 Resume Incomplete" is an answer,
			// not a redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		endpoint:  endpoint,
		bucket:    bucket,
		chunkSize: 16 << 20,
		pageSize:  1000,
	}, nil
}

// object is the part of the JSON API's object resource Quern reads. Sizes
// and generations are int64s sent as strings.
type object struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size,string"`
	Updated    time.Time `json:"updated"`
	Generation int64     `json:"generation,string"`
}

func (o object) attrs() objstore.Attrs {
	return objstore.Attrs{Key: o.Name, Size: o.Size, ModTime: o.Updated, Version: strconv.FormatInt(o.Generation, 10)}
}

// url returns the URL of the bucket's path under prefix ("/storage/v1",
// "/upload/storage/v1", "/download/storage/v1") with the query q.
func (s *Store) url(prefix, path string, q url.Values) string {
	u := s.endpoint + prefix + "/b/" + url.PathEscape(s.bucket) + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// objectPath is the path of key under a bucket: "/" in a key is escaped,
// since the whole key is one path element of the API.
func objectPath(key string) string { return "/o/" + url.PathEscape(key) }

// name is the gs:// URL of key, for errors.
func (s *Store) name(key string) string { return "gs://" + s.bucket + "/" + key }

func (s *Store) Attrs(ctx context.Context, key string) (objstore.Attrs, error) {
	var o object
	if err := s.callJSON(ctx, http.MethodGet, s.url("/storage/v1", objectPath(key), nil), nil, &o); err != nil {
		return objstore.Attrs{}, s.wrap(key, err)
	}
	return o.attrs(), nil
}

func (s *Store) List(ctx context.Context, prefix string) ([]objstore.Attrs, error) {
	var out []objstore.Attrs
	q := url.Values{"prefix": {prefix}, "maxResults": {strconv.Itoa(s.pageSize)}}
	for {
		var page struct {
			Items         []object `json:"items"`
			NextPageToken string   `json:"nextPageToken"`
		}
		if err := s.callJSON(ctx, http.MethodGet, s.url("/storage/v1", "/o", q), nil, &page); err != nil {
			return nil, s.wrap(prefix, err)
		}
		for _, o := range page.Items {
			out = append(out, o.attrs())
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		q.Set("pageToken", page.NextPageToken)
	}
}

func (s *Store) NewRangeReader(ctx context.Context, key string, offset, length int64) (objstore.Reader, error) {
	if length == 0 {
		// No byte to fetch, and a range cannot say so.
		return s.emptyReader(ctx, key)
	}
	h := http.Header{}
	switch {
	case length > 0:
		h.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	u := s.url("/download/storage/v1", objectPath(key), url.Values{"alt": {"media"}})
	resp, err := s.do(ctx, http.MethodGet, u, h, nil)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusRequestedRangeNotSatisfiable {
		// A range that starts at or past the end: no bytes, as a file
		// read there gives.
		r, aerr := s.emptyReader(ctx, key)
		if aerr == nil && offset < r.Attrs().Size {
			r.Close()
			return nil, s.wrap(key, err)
		}
		return r, aerr
	}
	if err != nil {
		return nil, s.wrap(key, err)
	}
	a, err := readAttrs(key, resp, h.Get("Range") != "")
	if err != nil {
		resp.Body.Close()
		return nil, s.wrap(key, err)
	}
	return &reader{ReadCloser: resp.Body, attrs: a}, nil
}

// emptyReader reads no byte of key, with its attributes.
func (s *Store) emptyReader(ctx context.Context, key string) (objstore.Reader, error) {
	a, err := s.Attrs(ctx, key)
	if err != nil {
		return nil, err
	}
	return &reader{ReadCloser: io.NopCloser(bytes.NewReader(nil)), attrs: a}, nil
}

// readAttrs takes an object's attributes from the headers of a read of it.
func readAttrs(key string, resp *http.Response, ranged bool) (objstore.Attrs, error) {
	a := objstore.Attrs{Key: key, Version: resp.Header.Get("X-Goog-Generation")}
	if a.Version == "" {
		return a, errors.New("read: the response names no generation")
	}
	a.ModTime, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		// Content-Range: bytes FIRST-LAST/SIZE
		cr := resp.Header.Get("Content-Range")
		i := strings.LastIndexByte(cr, '/')
		size, err := strconv.ParseInt(cr[i+1:], 10, 64)
		if i < 0 || err != nil {
			return a, fmt.Errorf("read: bad Content-Range %q", cr)
		}
		a.Size = size
	case ranged:
		// A server that ignores a range (GCS does for objects it
		// decompresses on the way) would hand over the wrong bytes.
		return a, fmt.Errorf("read: the server ignored the byte range (status %s)", resp.Status)
	case resp.ContentLength >= 0:
		a.Size = resp.ContentLength
	default:
		return a, errors.New("read: the response gives no length")
	}
	return a, nil
}

type reader struct {
	io.ReadCloser
	attrs objstore.Attrs
}

func (r *reader) Attrs() objstore.Attrs { return r.attrs }

// WriteIf uploads data on the precondition ifGenerationMatch: 0 for "does
// not exist", else the generation.
func (s *Store) WriteIf(ctx context.Context, key, version string, data []byte) (objstore.Attrs, error) {
	gen := "0"
	if version != "" {
		if _, err := strconv.ParseInt(version, 10, 64); err != nil {
			return objstore.Attrs{}, fmt.Errorf("%s: bad GCS generation %q", s.name(key), version)
		}
		gen = version
	}
	o, err := s.upload(ctx, key, data, url.Values{"ifGenerationMatch": {gen}})
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusPreconditionFailed {
			return objstore.Attrs{}, fmt.Errorf("%s: %w", s.name(key), objstore.ErrPrecondition)
		}
		return objstore.Attrs{}, s.wrap(key, err)
	}
	return o.attrs(), nil
}

// upload writes data as key in one request (a "media" upload).
func (s *Store) upload(ctx context.Context, key string, data []byte, q url.Values) (object, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("uploadType", "media")
	q.Set("name", key)
	var o object
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	err := s.callJSONHeader(ctx, http.MethodPost, s.url("/upload/storage/v1", "/o", q), h, data, &o)
	return o, err
}

// Copy rewrites src as dst, server side; a large object may take several
// calls, each carrying on from the last one's token.
func (s *Store) Copy(ctx context.Context, dst, src string) error {
	u := s.url("/storage/v1", objectPath(src)+"/rewriteTo/b/"+url.PathEscape(s.bucket)+objectPath(dst), nil)
	for {
		var res struct {
			Done         bool   `json:"done"`
			RewriteToken string `json:"rewriteToken"`
		}
		if err := s.callJSON(ctx, http.MethodPost, u, []byte("{}"), &res); err != nil {
			return s.wrap(src, err)
		}
		if res.Done {
			return nil
		}
		if res.RewriteToken == "" {
			return fmt.Errorf("%s: copy to %s: not done and no token to go on with", s.name(src), dst)
		}
		u = s.url("/storage/v1", objectPath(src)+"/rewriteTo/b/"+url.PathEscape(s.bucket)+objectPath(dst),
			url.Values{"rewriteToken": {res.RewriteToken}})
	}
}

func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.callJSON(ctx, http.MethodDelete, s.url("/storage/v1", objectPath(key), nil), nil, nil)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		return nil
	}
	return s.wrap(key, err)
}

// DeleteIf deletes the generation version of key, on the precondition
// that it is the live one: generation= names the version to delete (GCS
// deletes that one only, never a newer object, and answers 404 if it is
// gone), ifGenerationMatch= refuses the delete with 412 if the live object
// is another generation (some emulators honour only the first).
func (s *Store) DeleteIf(ctx context.Context, key, version string) error {
	if _, err := strconv.ParseInt(version, 10, 64); err != nil {
		return fmt.Errorf("%s: bad GCS generation %q", s.name(key), version)
	}
	q := url.Values{"generation": {version}, "ifGenerationMatch": {version}}
	err := s.callJSON(ctx, http.MethodDelete, s.url("/storage/v1", objectPath(key), q), nil, nil)
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code == http.StatusNotFound:
		// Gone already, replaced (that generation is no more), or
		// deleted by a try whose answer was lost.
		return nil
	case errors.As(err, &se) && se.code == http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", s.name(key), objstore.ErrPrecondition)
	}
	return s.wrap(key, err)
}

// wrap names the object in err, and makes a missing object or bucket
// match fs.ErrNotExist.
func (s *Store) wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		return objstore.NotExist(s.name(key), err)
	}
	return fmt.Errorf("%s: %w", s.name(key), err)
}
