package blobstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
)

// TestOutputLock runs a job into an output prefix that another job holds
// (a live holder in this process, then a holder on another host): it is
// refused with a configuration error naming the prefix, the holder and the
// lock object, and writes nothing. A lock left by a dead driver on this
// host is taken over. Every job that ran leaves no lock behind.
func TestOutputLock(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	host, _ := os.Hostname()
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			b := servers.Bucket(t, scheme, "outlock-"+scheme)
			if err := objstore.WriteObject(ctx, b+"/in/a.txt", []byte("a b a\n")); err != nil {
				t.Fatal(err)
			}
			out := b + "/out"
			lockURL := out + "/" + objstore.LockName
			run := func() error {
				_, err := mapreduce.Run(ctx, wordcount.Job, mapreduce.Config{Engine: mapreduce.EngineInline,
					Inputs: []string{b + "/in"}, Output: out, Overwrite: true, TmpDir: dir})
				return err
			}
			refused := func(what string, holder ...string) {
				t.Helper()
				before, _ := objstore.ReadObject(ctx, out+"/_SUCCESS")
				err := run()
				if !errors.Is(err, mapreduce.ErrConfig) || !errors.Is(err, objstore.ErrLocked) {
					t.Fatalf("%s: err = %v, want a config error wrapping ErrLocked", what, err)
				}
				for _, w := range append(holder, out, "delete the lock object "+lockURL) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %q does not say %q", what, err, w)
					}
				}
				if after, _ := objstore.ReadObject(ctx, out+"/_SUCCESS"); string(after) != string(before) {
					t.Errorf("%s: the refused job changed the output's _SUCCESS from %q to %q", what, before, after)
				}
			}
			unlocked := func(what string) {
				t.Helper()
				if _, err := objstore.ReadObject(ctx, lockURL); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: the lock is still there (%v)", what, err)
				}
			}
			writeLock := func(h objstore.Holder) {
				t.Helper()
				data, _ := json.Marshal(h)
				if err := objstore.WriteObject(ctx, lockURL, data); err != nil {
					t.Fatal(err)
				}
			}

			// A job running in this process holds the prefix.
			held, err := mapreduce.LockObjectOutput(ctx, out, "other", nil)
			if err != nil {
				t.Fatal(err)
			}
			refused("live holder", `job "other"`, host)
			if err := held.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if err := run(); err != nil {
				t.Fatalf("after the holder released: %v", err)
			}
			unlocked("after a committed job")

			// A driver on another host, which may still run.
			writeLock(objstore.Holder{Job: "sort", Host: "elsewhere", PID: 42, Since: time.Now()})
			refused("holder on another host", `job "sort"`, "pid 42 on host elsewhere")
			if data, err := objstore.ReadObject(ctx, lockURL); err != nil || !strings.Contains(string(data), "elsewhere") {
				t.Errorf("a refused job touched the holder's lock: %q, %v", data, err)
			}

			// A driver of this host that died: its pid now names
			// another process (this one).
			writeLock(objstore.Holder{Job: "sort", Host: host, PID: os.Getpid(), Process: "long gone", Since: time.Now()})
			if err := run(); err != nil {
				t.Fatalf("over a dead driver's lock: %v", err)
			}
			unlocked("after taking over a dead driver's lock")
			if _, err := objstore.ReadSuccess(ctx, out); err != nil {
				t.Errorf("no committed output after taking over a stale lock: %v", err)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "_quern-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
