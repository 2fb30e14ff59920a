package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quern-dev/quern/internal/commit"
	jobdriver "github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/mapreduce"
)

// Resuming a pipeline (Pipeline.Resume, `quern run PIPELINE --resume`).
//
// Each unit (schedule.go) that commits writes a manifest beside its runs in
// the work directory, unit-NN.json (NN: the index of its first stage):
//
//	{"Fingerprint": "9f2c…",                      // the unit's, see below
//	 "Runs": {"1": [{"Path": ".../s00-split/00000-attempt-1/c01-split-0000.run", …}]},
//	 "Stages": [{"Name": "split", "Tasks": 4, "Counters": {…}, …}]}
//
// Runs maps a collection's index to its committed runs: the collections the
// unit's stage makes for other stages, or a loop's result. The manifest is
// written (to a temporary name, then renamed) only after every task of the
// unit has committed, so a manifest names whole outputs only.
//
// The work directory's name comes from the pipeline's name and its output
// directory's absolute path (workDir), so that a second run with the same
// output finds it; Run (not resuming) removes it first, and a pipeline that
// succeeds or fails removes it at its end: only a killed or interrupted one
// leaves it.
//
// A unit's fingerprint is a SHA-256 of what decides its output: the
// pipeline's name and Quern's version, the unit's stages and the
// collections they make (names, types, fusion, combiners, key order), the
// reducer count, the spill compression, the output format, the job's parameters
// (all of them: a stage does not declare which it reads), the input
// format; for a read stage, its files (path, size, modification time,
// inode or object version); for a loop, its round count; and the
// fingerprints of the units it reads, so that a changed input or parameter
// changes every unit downstream of it. The stage functions' code is known
// only through Quern's version, the VCS revision the binary was built from
// ("+dirty" for a tree with uncommitted changes, which two different dirty
// builds share).
//
// Resume reuses a unit whose manifest has its fingerprint and whose runs
// are all there, or whose consumers are all reused themselves (then its
// runs, removed when they were read, are not needed). The stage that writes
// the output always runs again, unless the last run succeeded with the
// same fingerprint for the whole pipeline (_job.json's "fingerprint" and
// _SUCCESS): then nothing runs.

// manifest is the record of a committed unit.
type manifest struct {
	Fingerprint string
	Runs        map[int][]runFile
	Stages      []StageReport
}

// fingerprint sets every unit's fingerprint, and the pipeline's (d.fp).
func (d *driver) fingerprint() {
	params, _ := json.Marshal(d.cfg.Params) // map keys in order
	whole := sha256.New()
	for _, u := range d.units {
		h := sha256.New()
		fmt.Fprintf(h, "quern pipeline %s\nversion %s\n", d.p.Name, mapreduce.Version())
		fmt.Fprintf(h, "reducers %d\nspill compression %s\ninput format %s\noutput %+v\nparams %s\n",
			d.cfg.Reducers, d.cfg.SpillCompression, d.cfg.InputFormat, d.outOpts, params)
		if l := u.loop; l != nil {
			fmt.Fprintf(h, "loop %s: %d rounds, convergence test %t\n", l.name, d.rounds[l], l.spec.Until != nil)
		}
		for _, s := range u.stages {
			d.fingerprintStage(h, s)
		}
		for _, dep := range u.deps {
			fmt.Fprintf(h, "reads the output of %s\n", dep.fp)
		}
		u.fp = hex.EncodeToString(h.Sum(nil))
		fmt.Fprintln(whole, u.fp)
	}
	d.fp = hex.EncodeToString(whole.Sum(nil))
}

func (d *driver) fingerprintStage(h hash.Hash, s *stage) {
	fmt.Fprintf(h, "stage %d %s, kind %d\n", s.index, s.name, s.kind)
	for _, in := range s.inputs {
		fmt.Fprintf(h, "  reads %d %s\n", in.index, in.name)
	}
	for _, c := range d.p.colls {
		if c.producer == s {
			fmt.Fprintf(h, "  makes %d %s (%s, %s): by key %t, combined %t, fused %t, output %t\n",
				c.index, c.name, c.keyType, c.valueType, c.sameKey, c.combiner != nil, c.feed != nil, c.output)
		}
	}
	if s.kind == readStage {
		fmt.Fprintf(h, "  skips up to %d bad records per task\n", d.cfg.SkipBadRecords)
	}
	if d.p.output.producer == s {
		fmt.Fprintf(h, "  merged output %t\n", d.cfg.Merge)
	}
	for _, f := range d.files[s] {
		fmt.Fprintf(h, "  file %q: %d bytes, modified %d, id %v, version %q, format %v\n",
			f.Path, f.Size, f.ModTime.UnixNano(), f.ID, f.Version, f.Format)
	}
}

// workDir returns the pipeline's work directory for cfg's output, made
// empty unless resuming, and held by this process: kept, so that the
// start-up clean-up of other jobs leaves it for --resume even after this
// driver is killed (internal/driver/workdir.go), and removed by quern
// clean once no driver holds it.
func workDir(cfg mapreduce.Config, name string, resume bool) (*jobdriver.WorkDir, error) {
	out, err := filepath.Abs(cfg.Output)
	if err != nil {
		return nil, err
	}
	tmp := cfg.TmpDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	sum := sha256.Sum256([]byte(out))
	// "_": bookkeeping to a walk of an input folder that holds --tmp-dir
	// (internal/driver/workdir.go).
	dir := filepath.Join(tmp, "_quern-pipeline-"+safeName(name)+"-"+hex.EncodeToString(sum[:8]))
	if !resume {
		// Left by a killed run with this output, which nobody resumed.
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create work directory: %w", mapreduce.ErrConfig, err)
	}
	return jobdriver.HoldWorkDir(dir, true)
}

func (d *driver) manifestPath(u *unit) string {
	return filepath.Join(d.workDir.Path, fmt.Sprintf("unit-%02d.json", u.stages[0].index))
}

// makesOutput reports whether u writes the pipeline's output.
func (d *driver) makesOutput(u *unit) bool {
	for _, s := range u.stages {
		if d.p.output.producer == s {
			return true
		}
	}
	return false
}

// saveManifest records a committed unit (but not the one that writes the
// output, which is never reused on its own).
func (d *driver) saveManifest(u *unit) error {
	if d.makesOutput(u) {
		return nil
	}
	m := manifest{Fingerprint: u.fp, Runs: map[int][]runFile{}}
	d.mu.Lock()
	if u.loop != nil {
		m.Runs[u.loop.next.index] = d.runs[u.loop.next]
	} else {
		for _, c := range d.p.colls {
			if c.producer == u.stages[0] && c.stored() {
				m.Runs[c.index] = d.runs[c]
			}
		}
	}
	for _, s := range u.stages {
		m.Stages = append(m.Stages, d.stages[s.index])
	}
	d.mu.Unlock()
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeRenamed(d.manifestPath(u), b)
}

// planReuse marks the units whose committed output an earlier run left
// and that need not run again, and the loops that go on from a round.
func (d *driver) planReuse() {
	consumers := map[*unit][]*unit{}
	for _, u := range d.units {
		for _, dep := range u.deps {
			consumers[dep] = append(consumers[dep], u)
		}
	}
	// Consumers come after their producers: decide from the last unit
	// back, so that a unit knows whether its consumers run.
	for i := len(d.units) - 1; i >= 0; i-- {
		u := d.units[i]
		if !d.makesOutput(u) {
			u.reuse = d.reusable(u, consumers[u])
		}
		if u.reuse == nil && u.loop != nil {
			u.resumeLoop = d.loadLoopCheckpoint(u)
		}
	}
}

// reusable returns u's manifest if u need not run again: its manifest has
// its fingerprint, and its runs are there or no consumer will read them.
func (d *driver) reusable(u *unit, consumers []*unit) *manifest {
	m := d.loadManifest(u)
	if m == nil || m.Fingerprint != u.fp || len(m.Stages) != len(u.stages) {
		return nil
	}
	for _, c := range consumers {
		if c.reads(u) && !runsExist(m.Runs) {
			return nil
		}
	}
	return m
}

// reads reports whether c, planned, will read what u made: not if c is
// reused, nor if c is a loop going on from a checkpoint and reads u only
// as its loop variable's initial value, which only round 1 reads.
func (c *unit) reads(u *unit) bool {
	if c.reuse != nil {
		return false
	}
	for _, s := range c.stages {
		for _, in := range s.inputs {
			producer := in.producer
			if in.loopVar != nil {
				if c.resumeLoop != nil {
					continue
				}
				producer = in.loopVar.init.producer
			}
			if slices.Contains(u.stages, producer) {
				return true
			}
		}
	}
	return false
}

// loopCheckpoint is a loop's progress, saved in the work directory as
// unit-NN-loop.json (NN: the index of its first stage) after each
// committed round:
//
//	{"Fingerprint": "9f2c…",        // the unit's
//	 "Round": 2,                     // the last committed round
//	 "Converged": false,             // whether Until ended the loop there
//	 "Runs": [{"Path": ".../s02-halve-r002/00000-attempt-1/c03-halve-0000.run", …}],
//	 "Stages": [{"Name": "halve", "Tasks": 6, "Counters": {…}, …}]}
//
// Runs are the loop variable's runs for the next round. Resume with the
// same fingerprint goes on from round Round+1 if they are all there;
// otherwise the loop runs from round 1.
type loopCheckpoint struct {
	Fingerprint string
	Round       int
	Converged   bool
	Runs        []runFile
	Stages      []StageReport
}

func (d *driver) loopCheckpointPath(u *unit) string {
	return filepath.Join(d.workDir.Path, fmt.Sprintf("unit-%02d-loop.json", u.stages[0].index))
}

func (d *driver) saveLoopCheckpoint(u *unit, round int, converged bool) error {
	d.mu.Lock()
	cp := loopCheckpoint{Fingerprint: u.fp, Round: round, Converged: converged, Runs: d.runs[u.loop.next]}
	for _, s := range u.stages {
		cp.Stages = append(cp.Stages, d.stages[s.index])
	}
	b, err := json.Marshal(cp)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return writeRenamed(d.loopCheckpointPath(u), b)
}

// loadLoopCheckpoint returns u's checkpoint if a killed run of the same
// fingerprint left one whose runs are all there, or nil.
func (d *driver) loadLoopCheckpoint(u *unit) *loopCheckpoint {
	b, err := os.ReadFile(d.loopCheckpointPath(u))
	if err != nil {
		return nil
	}
	var cp loopCheckpoint
	if json.Unmarshal(b, &cp) != nil || cp.Fingerprint != u.fp || len(cp.Stages) != len(u.stages) ||
		!runsExist(map[int][]runFile{0: cp.Runs}) {
		return nil
	}
	return &cp
}

// writeRenamed writes b to path through a temporary name, so that a reader
// finds the whole file or the one before. On Windows the rename waits out
// a reader of the one before (a virus scanner, a tool watching the run),
// which would otherwise make it fail.
func writeRenamed(path string, b []byte) error {
	return commit.WriteFileAtomic(path, b)
}

func (d *driver) loadManifest(u *unit) *manifest {
	b, err := os.ReadFile(d.manifestPath(u))
	if err != nil {
		return nil
	}
	var m manifest
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return &m
}

func runsExist(byCollection map[int][]runFile) bool {
	for _, runs := range byCollection {
		for _, r := range runs {
			if st, err := os.Stat(r.Path); err != nil || st.Size() != r.Bytes {
				return false
			}
		}
	}
	return true
}

// reused takes a unit's output and reports from its manifest instead of
// running it.
func (d *driver) reused(u *unit) {
	d.cfg.Logger.Info("stage reused: its committed output is unchanged", "pipeline", d.p.Name, "unit", u.name)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, runs := range u.reuse.Runs {
		if i >= 0 && i < len(d.p.colls) {
			d.runs[d.p.colls[i]] = runs
		}
	}
	for i, s := range u.stages {
		rep := u.reuse.Stages[i]
		rep.Reused, rep.Start, rep.Elapsed = true, 0, 0
		d.stages[s.index] = rep
	}
}

// finishedBefore returns the result of the last run into the output when it
// succeeded with the pipeline's fingerprint: Resume then has nothing to do.
func (d *driver) finishedBefore() (*Result, bool) {
	if _, err := os.Stat(filepath.Join(d.cfg.Output, "_SUCCESS")); err != nil {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(d.cfg.Output, "_job.json"))
	if err != nil {
		return nil, false
	}
	var last struct {
		State       string
		Fingerprint string
		Stages      []mapreduce.StageStatus
	}
	if json.Unmarshal(b, &last) != nil || last.State != "succeeded" || last.Fingerprint != d.fp {
		return nil, false
	}
	parts, err := filepath.Glob(filepath.Join(d.cfg.Output, "part-*"))
	if err != nil || len(parts) != d.cfg.Reducers {
		return nil, false
	}
	res := &Result{Pipeline: d.p.Name, Engine: d.cfg.Engine, Output: d.cfg.Output, Parts: parts,
		Counters: mapreduce.Counters{}, Elapsed: time.Since(d.started)}
	for _, s := range last.Stages {
		res.Stages = append(res.Stages, StageReport{Name: s.Name, Kind: s.Kind, Loop: s.Loop, Rounds: s.Rounds,
			Tasks: s.Tasks, Counters: s.Counters, Reads: s.Reads, Reused: true})
	}
	d.cfg.Logger.Info("pipeline already succeeded with this configuration and input; nothing to run", "pipeline", d.p.Name)
	return res, true
}
