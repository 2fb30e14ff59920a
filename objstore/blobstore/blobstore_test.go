package blobstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
	_ "github.com/quern-dev/quern/objstore/blobstore"
	"github.com/quern-dev/quern/objstore/blobstore/blobtest"
)

var servers *blobtest.Servers

// TestMain doubles as the worker entry point of the local engine, which
// re-executes this test binary; workers reach the servers through the
// environment that Start sets.
func TestMain(m *testing.M) {
	mapreduce.Main()
	if os.Getenv(noRegionEnv) != "" {
		listWithoutRegion() // TestNoRegion's child: exits
	}
	var err error
	if servers, err = blobtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	servers.Stop()
	os.Exit(code)
}

// TestStore runs the Store contract on both drivers: a write, attributes,
// a ranged read, a listing by prefix, copy, delete, and a missing object
// and bucket that match fs.ErrNotExist and name the URL.
func TestStore(t *testing.T) {
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			b := servers.Bucket(t, scheme, "store-"+scheme)
			if err := objstore.WriteObject(ctx, b+"/dir/a.txt", []byte("hello, world\n")); err != nil {
				t.Fatal(err)
			}
			if err := objstore.WriteObject(ctx, b+"/dir/sub/b.txt", []byte("b\n")); err != nil {
				t.Fatal(err)
			}
			if err := objstore.WriteObject(ctx, b+"/dirx", []byte("not under dir/\n")); err != nil {
				t.Fatal(err)
			}
			s, u, err := objstore.Open(ctx, b+"/dir/a.txt")
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.Attrs(ctx, u.Key)
			if err != nil {
				t.Fatal(err)
			}
			if a.Size != 13 || a.Version == "" || a.ModTime.IsZero() {
				t.Errorf("attrs = %+v, want size 13 and a version and a time", a)
			}
			r, err := s.NewRangeReader(ctx, u.Key, 7, 5)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != "world" {
				t.Errorf("range [7,12) = %q, %v; want \"world\"", got, err)
			}
			if r.Attrs().Version != a.Version || r.Attrs().Size != 13 {
				t.Errorf("reader attrs %+v, want the object's %+v", r.Attrs(), a)
			}
			list, err := s.List(ctx, "dir/")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Key != "dir/a.txt" || list[1].Key != "dir/sub/b.txt" || list[0].Version != a.Version {
				t.Errorf("list dir/ = %+v", list)
			}
			if err := s.Copy(ctx, "copy.txt", "dir/a.txt"); err != nil {
				t.Fatal(err)
			}
			if got, err := objstore.ReadObject(ctx, b+"/copy.txt"); err != nil || string(got) != "hello, world\n" {
				t.Errorf("copy = %q, %v", got, err)
			}
			if err := s.Delete(ctx, "copy.txt"); err != nil {
				t.Fatal(err)
			}
			_, err = s.Attrs(ctx, "copy.txt")
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("deleted object: err = %v, want fs.ErrNotExist", err)
			}
			if err := s.Delete(ctx, "copy.txt"); err != nil {
				t.Errorf("second delete: %v", err)
			}
			_, err = objstore.ReadObject(ctx, scheme+"://no-such-bucket/x")
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("missing bucket: err = %v, want fs.ErrNotExist", err)
			}
		})
	}
}

// TestChangedObject rewrites an object, keeping its size, between planning
// and reading: the split's reader must refuse it with a ChangedError, as
// for a file rewritten in place, since the ETag or generation changed.
func TestChangedObject(t *testing.T) {
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			b := servers.Bucket(t, scheme, "changed-"+scheme)
			if err := objstore.WriteObject(ctx, b+"/in/a.txt", []byte("one two\n")); err != nil {
				t.Fatal(err)
			}
			files, err := input.Expand([]string{b + "/in"})
			if err != nil {
				t.Fatal(err)
			}
			splits, err := input.Plan(files, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if r, err := input.Open(splits[0]); err != nil {
				t.Fatalf("unchanged object: %v", err)
			} else {
				r.Close()
			}
			if err := objstore.WriteObject(ctx, b+"/in/a.txt", []byte("six two\n")); err != nil {
				t.Fatal(err)
			}
			_, err = input.Open(splits[0])
			var changed *input.ChangedError
			if !errors.As(err, &changed) || changed.Path != b+"/in/a.txt" {
				t.Errorf("rewritten object: err = %v, want a ChangedError naming it", err)
			}
		})
	}
}

// noRegionEnv makes the test binary TestNoRegion's child: the AWS SDK
// reads its configuration once a process, and the servers' (TestMain)
// set a region.
const noRegionEnv = "BLOBSTORE_TEST_NO_REGION"

// listWithoutRegion lists an S3 bucket, prints the error and exits.
func listWithoutRegion() {
	err := func() error {
		s, u, err := objstore.Open(context.Background(), "s3://some-bucket/logs/")
		if err != nil {
			return err
		}
		_, err = s.List(context.Background(), u.Key)
		return err
	}()
	fmt.Println(err)
	os.Exit(0)
}

// TestNoRegion: with no region set, the SDK refuses every request with an
// error about resolving an endpoint; the error says to set AWS_REGION,
// with a custom endpoint (an S3-compatible server) and without one.
func TestNoRegion(t *testing.T) {
	for _, endpoint := range []string{os.Getenv("AWS_ENDPOINT_URL"), ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), noRegionEnv+"=1", "AWS_REGION=", "AWS_DEFAULT_REGION=", "AWS_ENDPOINT_URL="+endpoint)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, want := range []string{"s3://some-bucket/logs/", "region", "set AWS_REGION to the bucket's region"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("AWS_ENDPOINT_URL=%q: the error lacks %q: %s", endpoint, want, out)
			}
		}
	}
}
