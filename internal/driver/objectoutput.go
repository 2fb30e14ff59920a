package driver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/objstore"
)

// Output to an object store (-o s3://bucket/prefix, gs://...).
//
// Object stores have no rename, so the job runs as for a local output
// directory, into a staging directory the driver owns (in --tmp-dir), and
// commits by uploading:
//
//  0. The driver takes the prefix's lock, OUT/_quern-lock, by a
//     conditional create (objstore.AcquireLock); it deletes it when the
//     job is over, committed or not.
//  1. Before the job runs, the output prefix is checked: it must hold
//     nothing but a previous job's output, and that only with --overwrite
//     (objstore.PrepareOutput). A finished previous output stays, whole,
//     until step 3: a job that fails before then loses nothing of it.
//  2. The job writes and commits its parts locally, as always.
//  3. The driver deletes the previous output's _SUCCESS, if there is one
//     (objstore.Uncommit), uploads every part, then _job.json (and any
//     _logs), under their final names, then deletes the previous
//     output's objects that none of those replaced.
//  4. It writes _SUCCESS last; its content is the manifest of the parts and
//     their sizes. _SUCCESS is the commit point: until it exists the
//     prefix holds no committed output, whatever parts are visible.
//
// A job that fails, or whose upload fails, deletes what it uploaded; if
// the driver dies mid-upload, parts may stay without a _SUCCESS, which
// readers must take as no output (see docs/reliability.md).

// ObjectOutput is the object-store output of a job or a pipeline: the
// prefix, locked, and the local staging directory the job commits into
// before Publish uploads it.
type ObjectOutput struct {
	url     string   // the output prefix, as given, without a trailing slash
	staging string   // the local directory the job writes, below a work directory
	dir     *WorkDir // the work directory that holds staging
	lock    *objstore.OutputLock
	log     *slog.Logger
	keys    []string // the objects uploaded so far, to delete if the job fails
	// previous are the keys of the finished output --overwrite replaces,
	// deleted when the job commits (Publish); publishing is set once
	// Publish has begun to replace it.
	previous   []string
	publishing bool
}

// StageObjectOutput takes the object-store output prefix out for the job
// named job (steps 0 and 1 above): it refuses a prefix that holds one of
// the inputs, locks it, checks it (objstore.PrepareOutput), and makes
// the local staging directory, in a work directory under tmpDir. Close it
// when the job is over.
func StageObjectOutput(ctx context.Context, out, job string, overwrite bool, tmpDir string, inputs []input.File, log *slog.Logger) (*ObjectOutput, error) {
	for _, f := range inputs {
		if strings.HasPrefix(f.Path, strings.TrimSuffix(out, "/")+"/") {
			return nil, fmt.Errorf("%w: output %s contains input object %s", ErrConfig, out, f.Path)
		}
	}
	lock, err := LockObjectOutput(ctx, out, job, log)
	if err != nil {
		return nil, err
	}
	o := &ObjectOutput{url: strings.TrimSuffix(out, "/"), lock: lock, log: log}
	if o.previous, err = objstore.PrepareOutput(ctx, out, overwrite, commit.IsJobFile); err != nil {
		o.Close()
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// A work directory, so that CleanStale removes it if the driver dies.
	if o.dir, err = createWorkDir(tmpDir, job+"-output"); err != nil {
		o.Close()
		return nil, err
	}
	o.staging = filepath.Join(o.dir.Path, "output")
	return o, nil
}

// URL is the output prefix.
func (o *ObjectOutput) URL() string { return o.url }

// Staging is the local directory the job takes as its output directory
// (commit.Open) and commits into.
func (o *ObjectOutput) Staging() string { return o.staging }

// Close removes the staging directory and releases the prefix's lock.
func (o *ObjectOutput) Close() {
	if o.dir != nil {
		o.dir.Remove()
	}
	if err := o.lock.Release(context.Background()); err != nil && o.log != nil {
		o.log.Warn("cannot release the output's lock", "output", o.url, "err", err)
	}
}

// stageObjectOutput takes the object-store output prefix cfg.Output and
// points the driver at its local staging directory instead. The returned
// func removes the staging directory; call it when the job is over.
func (d *driver) stageObjectOutput(ctx context.Context, files []input.File) (func(), error) {
	o, err := StageObjectOutput(ctx, d.cfg.Output, d.name, d.cfg.Overwrite, d.cfg.TmpDir, files, d.cfg.Logger)
	if err != nil {
		return nil, err
	}
	d.upload, d.out = o, o.Staging()
	return o.Close, nil
}

// LockObjectOutput takes the output prefix out for the job named job
// (objstore.AcquireLock), for this process on this host, taking over the
// lock of a driver on this host that died holding it (and saying so on
// log). The error for a prefix another job holds is a configuration error
// (exit status 2) naming the holder and the lock object.
func LockObjectOutput(ctx context.Context, out, job string, log *slog.Logger) (*objstore.OutputLock, error) {
	me := objstore.Holder{Job: job, PID: os.Getpid(), Since: time.Now()}
	me.Host, _ = os.Hostname()
	me.Process, _ = processID(me.PID)
	alive := func(h objstore.Holder) bool {
		id, err := processID(h.PID)
		return err == nil && id == h.Process
	}
	lock, err := objstore.AcquireLock(ctx, out, me, alive)
	if errors.Is(err, objstore.ErrOutput) || errors.Is(err, fs.ErrNotExist) || // a missing bucket, too
		errors.Is(err, objstore.ErrNoDriver) {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err != nil {
		return nil, err
	}
	if lock.Stale != nil && log != nil {
		log.Warn("took over the lock of a job that died writing this output", "output", out, "dead_holder", lock.Stale.String())
	}
	return lock, nil
}

// remoteName is the URL a file of the staging directory is uploaded to.
func (u *ObjectOutput) remoteName(local string) string {
	rel, err := filepath.Rel(u.staging, local)
	if err != nil {
		return local
	}
	return u.url + "/" + filepath.ToSlash(rel)
}

// Publish uploads the staged output (steps 3 and 4 above), parts first
// and _job.json last, then writes _SUCCESS with the manifest of the
// committed files, local paths in the staging directory ("" for none). It
// returns their uploaded names, in the same order ("" stays "").
func (u *ObjectOutput) Publish(ctx context.Context, committed []string) ([]string, error) {
	u.publishing = true
	if len(u.previous) > 0 {
		if err := objstore.Uncommit(ctx, u.url); err != nil {
			return nil, err
		}
	}
	var files []string
	err := filepath.WalkDir(u.staging, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("commit to %s: %w", u.url, err)
	}
	jobJSON := filepath.Join(u.staging, "_job.json")
	files = slices.DeleteFunc(files, func(p string) bool {
		b := filepath.Base(p)
		return p == jobJSON || b == objstore.SuccessName || strings.HasPrefix(b, "_job.json.tmp")
	})
	attrs := make([]objstore.Attrs, len(files))
	keys := make([]string, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8) // uploads are network-bound; a few at a time keep the link busy
	for i, p := range files {
		keys[i] = u.remoteName(p)
		g.Go(func() error {
			a, err := objstore.Upload(gctx, p, keys[i])
			if err != nil {
				return err
			}
			attrs[i] = a
			return nil
		})
	}
	err = g.Wait()
	u.keys = append(u.keys, keys...) // some may be missing; deleting them is harmless
	if err != nil {
		return nil, fmt.Errorf("commit to %s: %w", u.url, err)
	}
	if _, err := objstore.Upload(ctx, jobJSON, u.remoteName(jobJSON)); err != nil {
		return nil, fmt.Errorf("commit to %s: %w", u.url, err)
	}
	u.keys = append(u.keys, u.remoteName(jobJSON))
	written := map[string]bool{}
	for _, k := range u.keys {
		if ku, err := objstore.Parse(k); err == nil {
			written[ku.Key] = true
		}
	}
	if err := objstore.DeleteReplaced(ctx, u.url, u.previous, func(k string) bool { return written[k] }); err != nil {
		return nil, fmt.Errorf("commit to %s: %w", u.url, err)
	}
	var manifest []objstore.Attrs
	names := slices.Clone(committed)
	for i, p := range committed {
		if j := slices.Index(files, p); j >= 0 {
			manifest = append(manifest, attrs[j])
			names[i] = u.remoteName(p)
		}
	}
	if err := objstore.WriteSuccess(ctx, u.url, manifest); err != nil {
		return nil, fmt.Errorf("commit to %s: %w", u.url, err)
	}
	return names, nil
}

// Remove deletes what Publish uploaded, for a job that failed: _SUCCESS
// first, should it have been written. Before Publish, a previous output
// is left whole.
func (u *ObjectOutput) Remove(ctx context.Context) error {
	if !u.publishing {
		return nil
	}
	var errs []error
	s, pu, err := objstore.Open(ctx, u.url)
	if err != nil {
		return err
	}
	errs = append(errs, s.Delete(ctx, pu.Dir()+objstore.SuccessName))
	for _, k := range u.keys {
		if ku, err := objstore.Parse(k); err == nil {
			errs = append(errs, s.Delete(ctx, ku.Key))
		}
	}
	return errors.Join(errs...)
}
