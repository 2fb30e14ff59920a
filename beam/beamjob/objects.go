package beamjob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/quern-dev/quern/beam/internal/scratch"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
)

// Output to an object store (Output = s3://bucket/prefix or gs://...).
//
// Workers cannot rename objects, so the same protocol as for a directory
// runs on prefixes, with copies for renames:
//
//  0. Build takes the prefix's lock, OUT/_quern-lock, by a conditional
//     create (mapreduce.LockObjectOutput); Run releases it when the job
//     is over, committed or undone.
//  1. Build checks the prefix (objstore.PrepareOutput: only a previous
//     job's objects, and those only with Overwrite, _SUCCESS deleted first).
//  2. Each bundle that writes a part (a job's reduce, a pipeline's output
//     stage, pagerank's ranks: stagePart) writes it to a local temporary
//     file and, when the bundle finishes, uploads it as
//     OUT/_temporary/part-<random> and emits the name; a manifest bundle writes the names it saw as
//     OUT/_temporary/_manifest-<random> (an object appears whole or not).
//  3. After the pipeline succeeds, the launcher reads the manifests and
//     copies each named part, server side, to OUT/part-NNNNN, deletes
//     OUT/_temporary, writes OUT/_job.json, and writes OUT/_SUCCESS last
//     with the manifest of the parts and their sizes: the commit point.
//
// Parts of failed or retried bundles are never named in a manifest and go
// with _temporary. A job that fails deletes the parts it copied.

// prepareObjectOutput is prepareOutput for an output prefix.
func (pl *Plan) prepareObjectOutput(files []input.File) error {
	out := strings.TrimSuffix(pl.cfg.Output, "/")
	pl.cfg.Output = out
	for _, f := range files {
		if strings.HasPrefix(f.Path, out+"/") {
			return fmt.Errorf("%w: output %s contains input object %s", ErrConfig, out, f.Path)
		}
	}
	isJobName := func(name string) bool {
		return mapreduce.IsJobOutputFile(name) || strings.HasPrefix(name, manifestPrefix)
	}
	lock, err := mapreduce.LockObjectOutput(context.Background(), out, pl.cfg.Job, pl.cfg.Logger)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pl.objectLock = lock
	if err := objstore.PrepareOutput(context.Background(), out, pl.cfg.Overwrite, isJobName); err != nil {
		pl.unlockObjectOutput()
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pl.tmp = out + "/_temporary"
	return nil
}

// unlockObjectOutput releases the output prefix's lock, taken by
// prepareObjectOutput, once the job is over (committed or undone).
func (pl *Plan) unlockObjectOutput() {
	if pl.objectLock == nil {
		return
	}
	if err := pl.objectLock.Release(context.Background()); err != nil {
		pl.cfg.Logger.Warn("cannot release the output's lock", "output", pl.cfg.Output, "err", err)
	}
	pl.objectLock = nil
}

// commitObjectParts is commitParts for an output prefix: it copies the
// parts the manifests name to part-NNNNN and deletes _temporary. It
// returns the parts' URLs and attributes, for the _SUCCESS manifest, and
// the job's counters.
func (pl *Plan) commitObjectParts(ctx context.Context) ([]string, []objstore.Attrs, mapreduce.Counters, error) {
	s, tmp, err := objstore.Open(ctx, pl.tmp)
	if err != nil {
		return nil, nil, nil, err
	}
	manifests, err := s.List(ctx, tmp.Dir()+manifestPrefix)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("beamjob: list manifests in %s: %w", pl.tmp, err)
	}
	seen := map[string]mapreduce.Counters{}
	for _, m := range manifests {
		data, err := objstore.ReadObject(ctx, tmp.Join(m.Key))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("beamjob: read manifest: %w", err)
		}
		if err := parseManifest(tmp.Join(m.Key), data, seen); err != nil {
			return nil, nil, nil, err
		}
	}
	out, _ := objstore.Parse(pl.cfg.Output)
	ext := pl.opts.Ext()
	var parts []string
	var attrs []objstore.Attrs
	names, counters := committedParts(seen)
	for i, name := range names {
		key := out.Dir() + fmt.Sprintf("part-%05d%s", i, ext)
		if err := s.Copy(ctx, key, tmp.Dir()+name); err != nil {
			return parts, nil, nil, fmt.Errorf("beamjob: commit part %s: %w", name, err)
		}
		parts = append(parts, out.Join(key))
		a, err := s.Attrs(ctx, key)
		if err != nil {
			return parts, nil, nil, fmt.Errorf("beamjob: commit part %s: %w", name, err)
		}
		attrs = append(attrs, a)
	}
	if len(parts) == 0 {
		// One empty part in the job's format, as on a local disk.
		dir, err := os.MkdirTemp("", "quern-beam-empty-")
		if err != nil {
			return nil, nil, nil, err
		}
		defer os.RemoveAll(dir)
		local := dir + "/part-00000" + ext
		if err := pl.writeEmptyPart(local); err != nil {
			return nil, nil, nil, err
		}
		a, err := objstore.Upload(ctx, local, out.Join(out.Dir()+"part-00000"+ext))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("beamjob: write empty part: %w", err)
		}
		parts, attrs = append(parts, out.Join(a.Key)), append(attrs, a)
	}
	if err := objstore.DeletePrefix(ctx, pl.tmp); err != nil {
		return parts, nil, nil, fmt.Errorf("beamjob: remove %s: %w", pl.tmp, err)
	}
	return parts, attrs, counters, nil
}

// parseManifest adds the lines of one manifest, named name (a file or an
// object), to seen: a committed bundle's part name (or a map bundle's
// "counters-ID") and its counters (manifestLine). A name that a retried
// manifest bundle repeats is the same bundle, counted once.
func parseManifest(name string, data []byte, seen map[string]mapreduce.Counters) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		part, encoded, _ := strings.Cut(line, "\t")
		if part == "" || strings.ContainsAny(part, `/\`) {
			return fmt.Errorf("beamjob: manifest %s: bad part name %q", name, part)
		}
		counters := mapreduce.Counters{}
		if encoded != "" {
			if err := json.Unmarshal([]byte(encoded), &counters); err != nil {
				return fmt.Errorf("beamjob: manifest %s: counters of %s: %w", name, part, err)
			}
		}
		seen[part] = counters
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("beamjob: read manifest %s: %w", name, err)
	}
	return nil
}

// removeObjectOutput undoes a failed job's output in a prefix: _SUCCESS
// should it be there, the parts copied, and _temporary.
func (pl *Plan) removeObjectOutput(parts []string) {
	ctx := context.Background()
	s, out, err := objstore.Open(ctx, pl.cfg.Output)
	if err != nil {
		return
	}
	s.Delete(ctx, out.Dir()+objstore.SuccessName)
	for _, p := range parts {
		if u, err := objstore.Parse(p); err == nil {
			s.Delete(ctx, u.Key)
		}
	}
	if pl.tmp != "" {
		objstore.DeletePrefix(ctx, pl.tmp)
	}
	pl.unlockObjectOutput()
}

// stagedPart is where a bundle writes its part file named name: Dir/name
// when Dir is a local output's _temporary, or a local scratch file of the
// job's run when Dir is an object prefix, uploaded to Dir/name by publish
// once the part is closed (a part appears in the store whole or not at
// all). Every writer of parts (a job's reduce, a pipeline's output stage,
// pagerank's ranks) goes through it, so that any output a job can write
// to a directory it can write to a prefix.
type stagedPart struct {
	run, dir, name string
	// Path is the file the bundle writes.
	Path string
	// local is set when Path is a scratch file to upload.
	local bool
}

// stagePart returns where a bundle of run writes its part named name
// under dir.
func stagePart(run, dir, name string) (*stagedPart, error) {
	p := &stagedPart{run: run, dir: dir, name: name, Path: filepath.Join(dir, name)}
	if !objstore.IsURL(dir) {
		return p, nil
	}
	tmp, err := scratch.MkdirTemp(run, "", "quern-beam-part-")
	if err != nil {
		return nil, fmt.Errorf("beamjob: local part file: %w", err)
	}
	p.Path, p.local = tmp+"/"+name, true
	return p, nil
}

// publish puts the closed part where the launcher finds it: for an object
// prefix, it uploads the scratch file to dir/name and removes it.
func (p *stagedPart) publish(ctx context.Context) error {
	if !p.local {
		return nil
	}
	dst := p.dir + "/" + p.name
	_, err := objstore.Upload(ctx, p.Path, dst)
	if err == nil {
		err = withdrawIfEnded(p.run, dst)
	}
	return errors.Join(err, p.discard())
}

// withdrawIfEnded deletes dst, an object a bundle of run has just written
// under an object output's _temporary, if the run was abandoned meanwhile,
// and says so. The launcher abandons the run (scratch.Abandon) before it
// deletes _temporary, and a bundle the runner abandoned may still be
// uploading then. An upload that lands after the launcher listed
// _temporary would stay for good: its bundle finds the run ended once the
// upload is done and deletes it itself. One that lands before is in the
// launcher's listing. An object does not go through here once the run has
// ended before its upload began: its bundle gets no scratch directory to
// stage it in. (A local output needs none of this: commit.Dir.Abort
// renames _temporary aside first.)
func withdrawIfEnded(run, dst string) error {
	if !scratch.Ended(run) {
		return nil
	}
	// The bundle's context may be cancelled already.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := fmt.Errorf("beamjob: job run %s was abandoned while %s was written; it is deleted", run, dst)
	s, u, oerr := objstore.Open(ctx, dst)
	if oerr == nil {
		oerr = s.Delete(ctx, u.Key)
	}
	return errors.Join(err, oerr)
}

// discard removes the scratch file of a part that will not be published
// (the bundle failed, or publish is done with it). A part under a local
// _temporary is the part writer's to remove (its Abort).
func (p *stagedPart) discard() error {
	if !p.local {
		return nil
	}
	p.local = false
	return scratch.Remove(p.run, filepath.Dir(p.Path))
}

// committedParts returns the part names among the manifests' lines, in
// name order (a total-order job's parts sort by range), and the sum of
// every committed bundle's counters.
func committedParts(seen map[string]mapreduce.Counters) ([]string, mapreduce.Counters) {
	counters := mapreduce.Counters{}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		counters.Add(seen[name])
		if !strings.HasPrefix(name, mapCountersPrefix) {
			parts = append(parts, name)
		}
	}
	return parts, counters
}
