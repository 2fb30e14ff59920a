// Package objtest runs Beam jobs whose input and output are in an object
// store: an S3 server and a GCS server run in the test binary (see
// objstore/blobstore/blobtest). It is a package of its own because those
// servers live for the whole binary, which the beamjob tests' goroutine
// check would count as leaks.
package objtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/quern-dev/quern/beam/beamjob"
	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
	_ "github.com/quern-dev/quern/objstore/blobstore"
	"github.com/quern-dev/quern/objstore/blobstore/blobtest"
	"github.com/quern-dev/quern/pipeline"

	_ "github.com/quern-dev/quern/apps/all"
)

var servers *blobtest.Servers

func TestMain(m *testing.M) {
	mapreduce.Main()
	beam.Init()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	// Beam's loopback runner leaves a file in os.TempDir per pipeline.
	removeTempDir := beamtest.UsePrivateTempDir()
	var err error
	if servers, err = blobtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		removeTempDir()
		os.Exit(1)
	}
	code := m.Run()
	servers.Stop()
	removeTempDir()
	os.Exit(code)
}

// readParts returns the contents of the parts that the _SUCCESS of the
// output URL out lists, in its order.
func readParts(t *testing.T, ctx context.Context, out string) []byte {
	t.Helper()
	parts, err := objstore.ReadSuccess(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, p := range parts {
		data, err := objstore.ReadObject(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, data...)
	}
	return got
}

// readLocalParts returns the contents of a local run's parts, in order.
func readLocalParts(t *testing.T, parts []string) []byte {
	t.Helper()
	var all []byte
	for _, p := range parts {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}

// lines returns the sorted lines of data.
func lines(data []byte) []string {
	l := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(l)
	return l
}

// TestWordCountOnBeamWithObjects runs word count on Prism over objects in
// S3 and GCS (plain and .gz, several objects, named by prefix), writing
// its output to the store, and checks that the committed output (the
// parts _SUCCESS names) equals the local engine's over the same files.
// Cost: about 4 s.
func TestWordCountOnBeamWithObjects(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{}
	for i, size := range []int64{48 << 10, 20 << 10, 30 << 10} {
		var b bytes.Buffer
		if _, err := gen.Generate("text", &b, size, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("f%d.txt", i)] = b.Bytes()
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(files["f2.txt"])
	w.Close()
	files["f2.txt.gz"] = gz.Bytes()
	delete(files, "f2.txt")
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	local := filepath.Join(dir, "local-out")
	res, err := mapreduce.RunNamed(context.Background(), "wordcount", mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{dir}, Output: local, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := readLocalParts(t, res.Parts)
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			ctx := context.Background()
			b := servers.Bucket(t, scheme, "beam-"+scheme)
			for name, data := range files {
				if err := objstore.WriteObject(ctx, b+"/in/"+name, data); err != nil {
					t.Fatal(err)
				}
			}
			out := b + "/out"
			res, err := beamjob.Run(ctx, beamjob.Config{Job: "wordcount", Inputs: []string{b + "/in"},
				Output: out, SplitSize: 16 << 10, Runner: "prism"}, prism.Execute)
			if err != nil {
				t.Fatal(err)
			}
			if res.Splits <= len(files) {
				t.Errorf("%d splits for %d objects: not split by range", res.Splits, len(files))
			}
			got := readParts(t, ctx, out)
			if g, w := lines(got), lines(want); !slices.Equal(g, w) {
				t.Errorf("Beam over %s objects: %d lines, the local engine %d, and they differ", scheme, len(g), len(w))
			}
			s, u, _ := objstore.Open(ctx, out)
			left, err := s.List(ctx, u.Dir()+"_temporary/")
			if err != nil || len(left) > 0 {
				t.Errorf("_temporary left: %v %v", left, err)
			}
			if _, err := objstore.ReadObject(ctx, out+"/_job.json"); err != nil {
				t.Errorf("_job.json: %v", err)
			}
		})
	}
}

// TestFailedBeamJobLeavesNoOutput fails a Beam job mid-way (a malformed
// CSV object fails its map bundle) and checks that its output prefix
// holds nothing: no _SUCCESS, no part, no _temporary.
func TestFailedBeamJobLeavesNoOutput(t *testing.T) {
	ctx := context.Background()
	b := servers.Bucket(t, "s3", "beam-failing")
	if err := objstore.WriteObject(ctx, b+"/in/good.txt", bytes.Repeat([]byte("some words here\n"), 2000)); err != nil {
		t.Fatal(err)
	}
	if err := objstore.WriteObject(ctx, b+"/in/bad.csv", []byte("a,b\n1,2\n1,2,3\n")); err != nil {
		t.Fatal(err)
	}
	out := b + "/out"
	_, err := beamjob.Run(ctx, beamjob.Config{Job: "topk", Inputs: []string{b + "/in"},
		Output: out, SplitSize: 4 << 10, Runner: "prism"}, prism.Execute)
	if err == nil {
		t.Fatal("a job with a malformed CSV input succeeded")
	}
	s, u, _ := objstore.Open(ctx, out)
	if left, err := s.List(ctx, u.Dir()); err != nil || len(left) > 0 {
		t.Errorf("a failed job left %v (%v)", left, err)
	}
	if _, err := objstore.ReadSuccess(ctx, out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSuccess: %v, want fs.ErrNotExist", err)
	}
}

// TestFailedBeamOverwriteKeepsObjects runs a Beam job with Overwrite over
// a finished output in a prefix; its map bundle fails (a malformed CSV
// object), and the previous output is left object for object as it was.
func TestFailedBeamOverwriteKeepsObjects(t *testing.T) {
	ctx := context.Background()
	b := servers.Bucket(t, "gs", "beam-keep")
	if err := objstore.WriteObject(ctx, b+"/in/good.txt", bytes.Repeat([]byte("some words here\n"), 2000)); err != nil {
		t.Fatal(err)
	}
	if err := objstore.WriteObject(ctx, b+"/bad/bad.csv", []byte("a,b\n1,2\n1,2,3\n")); err != nil {
		t.Fatal(err)
	}
	out := b + "/out"
	if _, err := beamjob.Run(ctx, beamjob.Config{Job: "wordcount", Inputs: []string{b + "/in"}, Output: out}, prism.Execute); err != nil {
		t.Fatal(err)
	}
	snapshot := func() map[string]string {
		s, u, _ := objstore.Open(ctx, out)
		objs, err := s.List(ctx, u.Dir())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, o := range objs {
			if name := strings.TrimPrefix(o.Key, u.Dir()); name != objstore.LockName {
				data, err := objstore.ReadObject(ctx, u.Join(o.Key))
				if err != nil {
					t.Fatal(err)
				}
				m[name] = string(data)
			}
		}
		return m
	}
	before := snapshot()
	if _, ok := before[objstore.SuccessName]; !ok {
		t.Fatalf("the first job committed no _SUCCESS: %v", before)
	}
	_, err := beamjob.Run(ctx, beamjob.Config{Job: "topk", Inputs: []string{b + "/bad"}, Output: out, Overwrite: true}, prism.Execute)
	if err == nil {
		t.Fatal("a job with a malformed CSV input succeeded")
	}
	if after := snapshot(); !maps.Equal(before, after) {
		t.Errorf("a failed overwrite changed the output: %v → %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
}

// TestMissingInputObject checks that a missing bucket or object is a
// configuration error (exit status 2 in quern-beam) naming the URL.
func TestMissingInputObject(t *testing.T) {
	b := servers.Bucket(t, "gs", "beam-missing")
	for _, in := range []string{"gs://no-such-bucket/in", b + "/nothing-here.txt"} {
		_, err := beamjob.Run(context.Background(), beamjob.Config{Job: "wordcount", Inputs: []string{in},
			Output: b + "/out"}, prism.Execute)
		if !errors.Is(err, beamjob.ErrConfig) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), in) {
			t.Errorf("input %s: err = %v, want a configuration error (exit 2) naming it", in, err)
		}
	}
}

// TestBeamOutputLock runs a Beam job into an output prefix that a job of
// the local engine holds (in this process): it is refused, as a
// configuration error naming the holder and the lock object, and writes
// nothing; once the holder releases it, the job runs, and leaves no lock.
// A lock left by a dead launcher on this host is taken over.
func TestBeamOutputLock(t *testing.T) {
	ctx := context.Background()
	b := servers.Bucket(t, "gs", "beam-lock")
	if err := objstore.WriteObject(ctx, b+"/in/a.txt", []byte("a b a\n")); err != nil {
		t.Fatal(err)
	}
	out := b + "/out"
	lockURL := out + "/" + objstore.LockName
	run := func() error {
		_, err := beamjob.Run(ctx, beamjob.Config{Job: "wordcount", Inputs: []string{b + "/in"},
			Output: out, Overwrite: true, Runner: "prism"}, prism.Execute)
		return err
	}
	held, err := mapreduce.LockObjectOutput(ctx, out, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = run()
	if !errors.Is(err, beamjob.ErrConfig) || !errors.Is(err, objstore.ErrLocked) ||
		!strings.Contains(err.Error(), `job "other"`) || !strings.Contains(err.Error(), lockURL) {
		t.Fatalf("Beam job into a held prefix: err = %v, want a config error naming the holder and %s", err, lockURL)
	}
	s, u, _ := objstore.Open(ctx, out)
	if objs, _ := s.List(ctx, u.Dir()); len(objs) != 1 || objs[0].Key != u.Dir()+objstore.LockName {
		t.Errorf("the refused job wrote into the prefix: %v", objs)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatalf("after the holder released: %v", err)
	}
	if _, err := objstore.ReadObject(ctx, lockURL); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the lock is left after the job (%v)", err)
	}
	// A dead launcher's lock: its pid names another process now.
	host, _ := os.Hostname()
	stale := fmt.Sprintf(`{"job":"sort","host":%q,"pid":%d,"process":"long gone"}`, host, os.Getpid())
	if err := objstore.WriteObject(ctx, lockURL, []byte(stale)); err != nil {
		t.Fatal(err)
	}
	if err := run(); err != nil {
		t.Fatalf("over a dead launcher's lock: %v", err)
	}
	if _, err := objstore.ReadObject(ctx, lockURL); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the lock is left after the job (%v)", err)
	}
	if _, err := objstore.ReadSuccess(ctx, out); err != nil {
		t.Errorf("no committed output: %v", err)
	}
}

// TestColumnarObjectsOnBeam runs word count on Prism over Parquet and
// Arrow objects in S3 and GCS (word count's own output in those formats),
// whose footers and column chunks or batches are read by ranged GETs
// (input's objectFile), and checks that the committed output equals the
// local engine's over the same files on disk, with the same splits.
// Cost: about 4 s.
func TestColumnarObjectsOnBeam(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var text bytes.Buffer
	if _, err := gen.Generate("text", &text, 64<<10, 7); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(src, text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{}
	var inputs []string
	for _, format := range []string{"parquet", "arrow"} {
		out := filepath.Join(dir, format)
		res, err := mapreduce.RunNamed(ctx, "wordcount", mapreduce.Config{Engine: mapreduce.EngineInline,
			Inputs: []string{src}, Output: out, Reducers: 2, TmpDir: t.TempDir(), OutputFormat: format})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Parts {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			objects[format+"-"+filepath.Base(p)] = data
			inputs = append(inputs, p)
		}
	}
	local := filepath.Join(dir, "local-out")
	want, err := mapreduce.RunNamed(ctx, "wordcount", mapreduce.Config{Engine: mapreduce.EngineInline,
		Inputs: inputs, Output: local, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	wantData := readLocalParts(t, want.Parts)
	for _, scheme := range []string{"s3", "gs"} {
		t.Run(scheme, func(t *testing.T) {
			b := servers.Bucket(t, scheme, "beam-columnar-"+scheme)
			for name, data := range objects {
				if err := objstore.WriteObject(ctx, b+"/in/"+name, data); err != nil {
					t.Fatal(err)
				}
			}
			out := b + "/out"
			res, err := beamjob.Run(ctx, beamjob.Config{Job: "wordcount", Inputs: []string{b + "/in"},
				Output: out, Runner: "prism"}, prism.Execute)
			if err != nil {
				t.Fatal(err)
			}
			if res.Splits != want.Splits {
				t.Errorf("%d splits on Beam, %d on the local engine", res.Splits, want.Splits)
			}
			if g, w := res.Counters[mapreduce.MapInputRecords], want.Counters[mapreduce.MapInputRecords]; g != w {
				t.Errorf("%d input records on Beam, %d on the local engine", g, w)
			}
			got := readParts(t, ctx, out)
			if g, w := lines(got), lines(wantData); !slices.Equal(g, w) {
				t.Errorf("Beam over %s Parquet and Arrow objects: %d lines, the local engine %d, and they differ", scheme, len(g), len(w))
			}
		})
	}
}

// TestPipelinesOnBeamWithObjects runs the four registered pipelines
// (topwords, join, joinagg, pagerank: one Beam pipeline each) on Prism
// with their input in S3 and GCS (named by prefix, split by range) and
// their output there, and checks that the committed output equals that of
// the local engine (quern run) over the same files on disk, that their
// counters agree, and that the commit left no _temporary and no staged
// part file. Cost: see docs/scale-out.md.
func TestPipelinesOnBeamWithObjects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	text := beamtest.Generate(t, dir, "a.txt", "text", 64<<10, 1)
	text2 := beamtest.Generate(t, dir, "b.txt", "text", 32<<10, 2)
	users, orders := beamtest.JoinInputs(t, dir)
	edges := beamtest.Graph(t, dir)
	sides := map[string]string{"left": "users.csv", "right": "orders.csv", "left-key": "id", "right-key": "user_id"}
	cases := []struct {
		job    string
		inputs []string
		params map[string]string
	}{
		{"topwords", []string{text, text2}, map[string]string{"k": "15"}},
		{"join", []string{users, orders}, sides},
		{"joinagg", []string{users, orders}, mergeParams(sides, map[string]string{"group-by": "city", "sum": "amount"})},
		{"pagerank", []string{edges}, map[string]string{"iterations": "2"}},
	}
	for _, c := range cases {
		p, ok := pipeline.Lookup(c.job)
		if !ok {
			t.Fatalf("pipeline %s is not registered", c.job)
		}
		local := filepath.Join(t.TempDir(), "local")
		want, err := p.Run(ctx, mapreduce.Config{Inputs: c.inputs, Output: local, Workers: 2, Reducers: 3,
			SplitSize: 16 << 10, TmpDir: t.TempDir(), Params: c.params})
		if err != nil {
			t.Fatalf("%s on the local engine: %v", c.job, err)
		}
		wantData := readLocalParts(t, want.Parts)
		if len(wantData) == 0 {
			t.Fatalf("%s wrote nothing on the local engine: nothing to compare", c.job)
		}
		for _, scheme := range []string{"s3", "gs"} {
			t.Run(c.job+"/"+scheme, func(t *testing.T) {
				b := servers.Bucket(t, scheme, "pipe-"+c.job+"-"+scheme)
				for _, in := range c.inputs {
					data, err := os.ReadFile(in)
					if err != nil {
						t.Fatal(err)
					}
					if err := objstore.WriteObject(ctx, b+"/in/"+filepath.Base(in), data); err != nil {
						t.Fatal(err)
					}
				}
				out := b + "/out"
				res, err := beamjob.Run(ctx, beamjob.Config{Job: c.job, Inputs: []string{b + "/in"}, Output: out,
					Params: c.params, SplitSize: 16 << 10, Runner: "prism"}, prism.Execute)
				if err != nil {
					t.Fatal(err)
				}
				if res.Splits <= len(c.inputs) {
					t.Errorf("%d splits for %d objects: not split by range", res.Splits, len(c.inputs))
				}
				got := readParts(t, ctx, out)
				if c.job == "pagerank" {
					beamtest.RanksAgree(t, lines(wantData), lines(got))
				} else if g, w := lines(got), lines(wantData); !slices.Equal(g, w) {
					t.Errorf("%s on Beam over %s objects: %d lines, the local engine %d, and they differ", c.job, scheme, len(g), len(w))
				}
				for _, name := range []string{mapreduce.MapInputRecords, mapreduce.MapInputBytes, mapreduce.ReduceOutputRecords} {
					if g, w := res.Counters[name], want.Counters[name]; g != w {
						t.Errorf("counter %s: %d on Beam, %d on the local engine", name, g, w)
					}
				}
				s, u, _ := objstore.Open(ctx, out)
				if left, err := s.List(ctx, u.Dir()+"_temporary/"); err != nil || len(left) > 0 {
					t.Errorf("_temporary left: %v %v", left, err)
				}
				if _, err := objstore.ReadObject(ctx, out+"/_job.json"); err != nil {
					t.Errorf("_job.json: %v", err)
				}
				if staged, _ := filepath.Glob(filepath.Join(os.TempDir(), "quern-beam-part-*")); len(staged) > 0 {
					t.Errorf("staged parts left: %v", staged)
				}
			})
		}
	}
}

// TestJobsOnBeamWithObjects runs the jobs whose object output had no test
// of its own on Beam (grep, sort, reverselinks: each writes its parts
// through the same stagedPart as wordcount, but with a job's own output
// format and, for sort, the total order's ranges) from and to both stores,
// and checks each against the local engine over the same files: the same
// lines, sort's in order across the parts _SUCCESS lists, nothing left
// under _temporary.
func TestJobsOnBeamWithObjects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	text := beamtest.Generate(t, dir, "a.txt", "text", 48<<10, 3)
	html := beamtest.Generate(t, dir, "pages.jsonl", "html", 48<<10, 4)
	cases := []struct {
		job    string
		input  string
		params map[string]string
		ranges int
	}{
		{"grep", text, map[string]string{"pattern": "th[a-z]+"}, 0},
		{"sort", text, map[string]string{"records": "lines"}, 3},
		{"reverselinks", html, nil, 0},
	}
	for _, c := range cases {
		want, err := mapreduce.RunNamed(ctx, c.job, mapreduce.Config{Engine: mapreduce.EngineInline,
			Inputs: []string{c.input}, Output: filepath.Join(t.TempDir(), "local"), TmpDir: t.TempDir(), Params: c.params})
		if err != nil {
			t.Fatalf("%s on the local engine: %v", c.job, err)
		}
		wantData := readLocalParts(t, want.Parts)
		if len(wantData) == 0 {
			t.Fatalf("%s wrote nothing on the local engine: nothing to compare", c.job)
		}
		data, err := os.ReadFile(c.input)
		if err != nil {
			t.Fatal(err)
		}
		for _, scheme := range []string{"s3", "gs"} {
			t.Run(c.job+"/"+scheme, func(t *testing.T) {
				b := servers.Bucket(t, scheme, "job-"+c.job+"-"+scheme)
				if err := objstore.WriteObject(ctx, b+"/in/"+filepath.Base(c.input), data); err != nil {
					t.Fatal(err)
				}
				out := b + "/out"
				if _, err := beamjob.Run(ctx, beamjob.Config{Job: c.job, Inputs: []string{b + "/in"}, Output: out,
					Params: c.params, SplitSize: 16 << 10, Ranges: c.ranges, Runner: "prism"}, prism.Execute); err != nil {
					t.Fatal(err)
				}
				got := readParts(t, ctx, out)
				// grep's lines name the file, here the object.
				wantHere := bytes.ReplaceAll(wantData, []byte(c.input), []byte(b+"/in/"+filepath.Base(c.input)))
				if g, w := lines(got), lines(wantHere); !slices.Equal(g, w) {
					t.Errorf("%s on Beam over %s objects: %d lines, the local engine %d, and they differ", c.job, scheme, len(g), len(w))
				}
				if c.job == "sort" {
					l := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
					if !slices.IsSorted(l) {
						t.Errorf("sort on Beam over %s objects: the parts _SUCCESS lists are not in order", scheme)
					}
				}
				s, u, _ := objstore.Open(ctx, out)
				if left, err := s.List(ctx, u.Dir()+"_temporary/"); err != nil || len(left) > 0 {
					t.Errorf("_temporary left: %v %v", left, err)
				}
			})
		}
	}
}

// mergeParams returns a copy of a with b's entries added.
func mergeParams(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}
