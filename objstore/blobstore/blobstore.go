// Package blobstore registers the s3:// and gs:// object stores with
// package objstore: S3 through gocloud.dev/blob and its s3blob driver, GCS
// through package objstore/gcs (GCS's JSON API over net/http, which keeps
// Google's gRPC-based client and its start-up cost out of every Quern
// process). Import it for its side effect:
//
//	import _ "github.com/quern-dev/quern/objstore/blobstore"
//
// Credentials come from the usual environment, as the AWS and Google SDKs
// read it:
//
//   - S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
//     AWS_REGION (or AWS_DEFAULT_REGION), AWS_PROFILE and the shared
//     config files, instance and pod roles. AWS_ENDPOINT_URL_S3 or
//     AWS_ENDPOINT_URL points at an S3-compatible server (MinIO, Ceph,
//     a test server); with either set, requests use path-style URLs
//     (http://host/bucket/key), which such servers expect.
//   - GCS: GOOGLE_APPLICATION_CREDENTIALS or the other Application Default
//     Credentials; STORAGE_EMULATOR_HOST points at a GCS emulator and then
//     no credentials are used.
package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	s3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3://
	"gocloud.dev/gcerrors"

	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/objstore/gcs"
)

func init() {
	objstore.Register("s3", func(ctx context.Context, bucket string) (objstore.Store, error) {
		return open(ctx, "s3", bucket, s3Params())
	})
	objstore.Register("gs", func(ctx context.Context, bucket string) (objstore.Store, error) {
		return gcs.Open(ctx, bucket)
	})
}

// s3Params returns the URL query that makes s3blob talk to a custom
// endpoint path-style. s3blob reads AWS_ENDPOINT_URL itself (through the
// AWS SDK's config) but not the style, and virtual-host style
// (bucket.host) fails on servers that are not AWS.
func s3Params() string {
	if os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" {
		return "?use_path_style=true"
	}
	return ""
}

func open(ctx context.Context, scheme, bucket, params string) (objstore.Store, error) {
	b, err := blob.OpenBucket(ctx, scheme+"://"+bucket+params)
	if err != nil {
		return nil, err
	}
	return &store{b: b, bucket: bucket, prefix: scheme + "://" + bucket + "/"}, nil
}

// store is an objstore.Store over a gocloud bucket (S3's).
type store struct {
	b      *blob.Bucket
	bucket string
	prefix string // scheme://bucket/, for error messages
}

var _ objstore.Store = (*store)(nil)

// wrap gives err the object's URL, and makes a missing object or bucket
// match fs.ErrNotExist.
func (s *store) wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.NotFound {
		return objstore.NotExist(s.prefix+key, err)
	}
	if noRegion(err) {
		return fmt.Errorf("%s%s: %w (no AWS region is set: set AWS_REGION to the bucket's region, "+
			"as in AWS_REGION=us-east-1; any region does for an S3-compatible server)", s.prefix, key, err)
	}
	return fmt.Errorf("%s%s: %w", s.prefix, key, err)
}

// noRegion reports whether err is the SDK's refusal to send a request with
// no region set, which it words as a rule of endpoint resolution ("Invalid
// region: region was not a valid DNS name", or with AWS_ENDPOINT_URL "A
// region must be set when sending requests to S3"), not saying what to set.
func noRegion(err error) bool {
	if os.Getenv("AWS_REGION") != "" || os.Getenv("AWS_DEFAULT_REGION") != "" {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "Invalid region") || strings.Contains(msg, "A region must be set")
}

func (s *store) Attrs(ctx context.Context, key string) (objstore.Attrs, error) {
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		return objstore.Attrs{}, s.wrap(key, err)
	}
	return objstore.Attrs{Key: key, Size: a.Size, ModTime: a.ModTime, Version: version(a.ETag, a.As)}, nil
}

// version is the ETag, which S3 gives in a listing's entries too.
func version(etag string, as func(any) bool) string {
	var listed s3types.Object // a listing's entry on S3
	if as(&listed) && listed.ETag != nil {
		return *listed.ETag
	}
	return etag
}

func (s *store) List(ctx context.Context, prefix string) ([]objstore.Attrs, error) {
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	var out []objstore.Attrs
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, s.wrap(prefix, err)
		}
		if o.IsDir {
			continue
		}
		out = append(out, objstore.Attrs{Key: o.Key, Size: o.Size, ModTime: o.ModTime, Version: version("", o.As)})
	}
}

func (s *store) NewRangeReader(ctx context.Context, key string, offset, length int64) (objstore.Reader, error) {
	r, err := s.b.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, s.wrap(key, err)
	}
	a := objstore.Attrs{Key: key, Size: r.Size(), ModTime: r.ModTime()}
	var s3out s3.GetObjectOutput
	if r.As(&s3out) && s3out.ETag != nil {
		a.Version = *s3out.ETag
	}
	return &reader{Reader: r, attrs: a}, nil
}

type reader struct {
	*blob.Reader
	attrs objstore.Attrs
}

func (r *reader) Attrs() objstore.Attrs { return r.attrs }

func (s *store) NewWriter(ctx context.Context, key string) (io.WriteCloser, error) {
	w, err := s.b.NewWriter(ctx, key, nil)
	if err != nil {
		return nil, s.wrap(key, err)
	}
	return w, nil
}

// WriteIf is a conditional PUT: S3's If-None-Match: * (create only) or
// If-Match: ETAG (replace only that version), which S3 checks atomically
// with the write, so that of two writes conditional on one state at most
// one succeeds. It calls the AWS SDK's client directly rather than through
// gocloud's writer, for the ETag in the PUT's own answer: an Attrs after
// the write could already see another job's object.
func (s *store) WriteIf(ctx context.Context, key, version string, data []byte) (objstore.Attrs, error) {
	c, err := s.client(key)
	if err != nil {
		return objstore.Attrs{}, err
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = &version
	}
	out, err := c.PutObject(ctx, in)
	if err != nil {
		return objstore.Attrs{}, s.conditional(key, err)
	}
	a := objstore.Attrs{Key: key, Size: int64(len(data)), ModTime: time.Now()}
	if out.ETag != nil {
		a.Version = *out.ETag
	}
	return a, nil
}

// DeleteIf is a DELETE with If-Match: ETAG, which S3 checks atomically
// with the delete. An S3-compatible server that ignores If-Match on DELETE
// deletes whatever version is there; see objstore.OutputLock.Release for
// how the lock narrows that window.
func (s *store) DeleteIf(ctx context.Context, key, version string) error {
	c, err := s.client(key)
	if err != nil {
		return err
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key, IfMatch: &version})
	if err := s.conditional(key, err); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// client returns the bucket's AWS SDK client for a conditional request on
// key. gocloud escapes a few characters in keys (control characters, the
// "/" of "../"); such a key is refused here, since the object this request
// names would not be the one gocloud's other calls name.
func (s *store) client(key string) (*s3.Client, error) {
	var c *s3.Client
	if !s.b.As(&c) {
		return nil, fmt.Errorf("%s%s: this S3 bucket gives no client for a conditional request", s.prefix, key)
	}
	for i, r := range key {
		if r < 32 || r == '/' && strings.HasSuffix(key[:i], "..") {
			return nil, fmt.Errorf("%s%q: a conditional request needs a key without control characters or \"../\"", s.prefix, key)
		}
	}
	return c, nil
}

// conditional wraps the error of a conditional request: a precondition
// S3 found false wraps objstore.ErrPrecondition, and so does 409
// ConditionalRequestConflict, S3's answer when another conditional write
// of the key is under way (the object is changing, not in the state the
// request was conditional on).
func (s *store) conditional(key string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return fmt.Errorf("%s%s: %w", s.prefix, key, objstore.ErrPrecondition)
		case "NoSuchKey", "NoSuchBucket", "NotFound":
			return objstore.NotExist(s.prefix+key, err)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return objstore.NotExist(s.prefix+key, err)
	}
	return fmt.Errorf("%s%s: %w", s.prefix, key, err)
}

func (s *store) Copy(ctx context.Context, dst, src string) error {
	return s.wrap(src, s.b.Copy(ctx, dst, src, nil))
}

func (s *store) Delete(ctx context.Context, key string) error {
	err := s.b.Delete(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return s.wrap(key, err)
}
