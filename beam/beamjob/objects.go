package beamjob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
//     job's objects, and those only with Overwrite). A finished previous
//     output stays, whole, until step 4: a job that fails before then
//     loses nothing of it.
//  2. Run creates OUT/_temporary/_running-RUN (markRunning), which says
//     that the run goes on; a bundle that finds it gone after an upload
//     deletes what it uploaded (withdrawIfEnded).
//  3. Each bundle that writes a part (a job's reduce, a pipeline's output
//     stage, pagerank's ranks: stagePart) writes it to a local temporary
//     file and, when the bundle finishes, uploads it as
//     OUT/_temporary/part-<random> and emits the name; a manifest bundle writes the names it saw as
//     OUT/_temporary/_manifest-<random> (an object appears whole or not).
//  4. After the pipeline succeeds, the launcher deletes the previous
//     output's _SUCCESS (objstore.Uncommit), reads the manifests and
//     copies each named part, server side, to OUT/part-NNNNN, deletes the
//     run's marker and then OUT/_temporary and the previous output's
//     objects no part replaced (objstore.DeleteReplaced), writes
//     OUT/_job.json, and writes OUT/_SUCCESS last with the manifest of the
//     parts and their sizes: the commit point.
//
// Parts of failed or retried bundles are never named in a manifest and go
// with _temporary. A job that fails deletes the parts it copied, the
// marker and _temporary, in that order.

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
	if pl.previous, err = objstore.PrepareOutput(context.Background(), out, pl.cfg.Overwrite, isJobName); err != nil {
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
	if len(pl.previous) > 0 {
		pl.replacing = true
		if err := objstore.Uncommit(ctx, pl.cfg.Output); err != nil {
			return nil, nil, nil, err
		}
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
	if err := pl.endRun(ctx); err != nil {
		return parts, nil, nil, err
	}
	if err := objstore.DeletePrefix(ctx, pl.tmp); err != nil {
		return parts, nil, nil, fmt.Errorf("beamjob: remove %s: %w", pl.tmp, err)
	}
	written := func(key string) bool {
		return slices.ContainsFunc(attrs, func(a objstore.Attrs) bool { return a.Key == key })
	}
	if err := objstore.DeleteReplaced(ctx, pl.cfg.Output, pl.previous, written); err != nil {
		return parts, nil, nil, fmt.Errorf("beamjob: %w", err)
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
// should it be there, the parts copied, and _temporary. A previous
// output's _SUCCESS stays unless the commit had begun to replace it.
func (pl *Plan) removeObjectOutput(parts []string) {
	ctx := context.Background()
	s, out, err := objstore.Open(ctx, pl.cfg.Output)
	if err != nil {
		return
	}
	if len(pl.previous) == 0 || pl.replacing {
		s.Delete(ctx, out.Dir()+objstore.SuccessName)
	}
	for _, p := range parts {
		if u, err := objstore.Parse(p); err == nil {
			s.Delete(ctx, u.Key)
		}
	}
	if pl.tmp != "" {
		pl.endRun(ctx)
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
		err = withdrawIfEnded(p.run, p.dir, dst)
	}
	return errors.Join(err, p.discard())
}

// runMarker is the object that says job run is going on, under tmp (an
// object output's _temporary): TMP/_running-RUN, created by the launcher
// before any bundle runs (markRunning) and deleted before it deletes TMP
// (endRun).
func runMarker(tmp, run string) string { return tmp + "/_running-" + run }

// markRunning creates the run's marker.
func (pl *Plan) markRunning(ctx context.Context) error {
	if err := objstore.WriteObject(ctx, runMarker(pl.tmp, pl.run), nil); err != nil {
		return fmt.Errorf("beamjob: mark job run %s in %s: %w", pl.run, pl.tmp, err)
	}
	return nil
}

// endRun deletes the run's marker, which must go before _temporary is
// listed for deletion (see withdrawIfEnded).
func (pl *Plan) endRun(ctx context.Context) error {
	s, m, err := objstore.Open(ctx, runMarker(pl.tmp, pl.run))
	if err == nil {
		err = s.Delete(ctx, m.Key)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("beamjob: end job run %s in %s: %w", pl.run, pl.tmp, err)
	}
	return nil
}

// withdrawIfEnded deletes dst, an object a bundle of run has just written
// under an object output's _temporary (dir), if the run has ended
// meanwhile, and says so. A bundle the runner abandoned, or a duplicate of
// one it retried, may still be uploading when the launcher deletes
// _temporary; an upload that lands after the launcher listed _temporary
// would stay for good. So the launcher first ends the run, then lists: an
// upload that lands before the listing is in it, and the bundle of one
// that lands after finds the run ended once its upload is done and
// deletes the object itself. The run has ended when the launcher in this
// process abandoned it (scratch.Ended; bundles that run in the launcher's
// process: loopback, Prism in-process) or when its marker object is gone
// (endRun; bundles on a runner's own workers, which share nothing with the
// launcher but the store, whose reads see every write before them). (A
// local output needs none of this: commit.Dir.Abort renames _temporary
// aside first.)
func withdrawIfEnded(run, dir, dst string) error {
	// The bundle's context may be cancelled already.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, u, err := objstore.Open(ctx, dst)
	if err != nil {
		return err
	}
	if !scratch.Ended(run) {
		marker := runMarker(dir, run)
		m, err := objstore.Parse(marker)
		if err != nil {
			return err
		}
		_, err = s.Attrs(ctx, m.Key)
		if err == nil {
			return nil // the run goes on
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("beamjob: check that job run %s goes on (%s): %w", run, marker, err)
		}
	}
	return errors.Join(fmt.Errorf("beamjob: job run %s ended while %s was written; it is deleted", run, dst),
		s.Delete(ctx, u.Key))
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
