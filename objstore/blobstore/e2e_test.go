package blobstore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quern-dev/quern/apps/topwords"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
)

// corpus writes the test input into dir, and returns its files' names
// relative to dir: plain and gzipped text, one file in a sub-folder, and a
// _hidden file that every way of naming the input skips.
func corpus(t *testing.T, dir string) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda"}
	text := func(lines int) []byte {
		var b bytes.Buffer
		for range lines {
			for j := range 1 + rng.IntN(12) {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteString(words[rng.IntN(len(words))]) // 100 distinct words
			}
			b.WriteByte('\n')
		}
		return b.Bytes()
	}
	gz := func(data []byte) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
		return b.Bytes()
	}
	files := map[string][]byte{
		"a.txt":     text(3000),
		"b.txt.gz":  gz(text(2000)),
		"c.gz":      gz(text(500)),
		"sub/d.txt": text(1000),
		"_skip.txt": []byte("never counted\n"),
	}
	var names []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// upload copies the corpus files into the bucket under prefix.
func upload(t *testing.T, dir, bucket, prefix string, names []string) {
	t.Helper()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := objstore.WriteObject(context.Background(), bucket+"/"+prefix+"/"+n, data); err != nil {
			t.Fatal(err)
		}
	}
}

// localLines reads the part files of a local output directory, sorted.
func localLines(t *testing.T, res *mapreduce.Result) []string {
	t.Helper()
	var lines []string
	for _, p := range res.Parts {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	slices.Sort(lines)
	return lines
}

// committedLines reads an object-store output the way a reader must: the
// parts that _SUCCESS names, sorted by line.
func committedLines(t *testing.T, out string) []string {
	t.Helper()
	parts, err := objstore.ReadSuccess(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range parts {
		data, err := objstore.ReadObject(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	slices.Sort(lines)
	return lines
}

// TestWordCountObjects runs word count over objects in S3 and GCS, named
// as a prefix and as globs, on the local engine (worker processes read
// their splits by range) and the inline engine, with the output in the
// store, and checks it equals the same job on local files. The split size
// cuts every plain object into several splits. Cost: about 3 s.
func TestWordCountObjects(t *testing.T) {
	dir := t.TempDir()
	names := corpus(t, filepath.Join(dir, "in"))
	cfg := func(engine string, inputs []string, out string) mapreduce.Config {
		return mapreduce.Config{Engine: engine, Inputs: inputs, Output: out, Workers: 2, Reducers: 3,
			SplitSize: 16 << 10, TmpDir: dir}
	}
	local, err := mapreduce.Run(context.Background(), wordcount.Job,
		cfg(mapreduce.EngineInline, []string{filepath.Join(dir, "in")}, filepath.Join(dir, "local-out")))
	if err != nil {
		t.Fatal(err)
	}
	want := localLines(t, local)
	if len(want) < 100 {
		t.Fatalf("local word count has %d lines; the corpus is too small to test anything", len(want))
	}
	for _, scheme := range []string{"s3", "gs"} {
		b := servers.Bucket(t, scheme, "wc-"+scheme)
		upload(t, filepath.Join(dir, "in"), b, "logs", names)
		for _, tc := range []struct {
			engine string
			inputs []string
		}{
			{mapreduce.EngineLocal, []string{b + "/logs"}},
			{mapreduce.EngineInline, []string{b + "/logs/*.txt", b + "/logs/{*.gz,sub/*}"}},
		} {
			t.Run(scheme+"/"+tc.engine, func(t *testing.T) {
				out := b + "/out-" + tc.engine
				res, err := mapreduce.Run(context.Background(), wordcount.Job, cfg(tc.engine, tc.inputs, out))
				if err != nil {
					t.Fatal(err)
				}
				if res.Splits <= len(names) {
					t.Errorf("%d splits for %d objects: the plain objects were not split by range", res.Splits, len(names)-1)
				}
				if res.Output != out || !strings.HasPrefix(res.Parts[0], out+"/part-") {
					t.Errorf("result names output %s and parts %v, want them in %s", res.Output, res.Parts, out)
				}
				if got := committedLines(t, out); !slices.Equal(got, want) {
					t.Errorf("word count over %v: %d lines differ from the local job's %d", tc.inputs, len(got), len(want))
				}
				// The staging directory and work directories are gone.
				if left, _ := filepath.Glob(filepath.Join(dir, "_quern-*")); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
				if tc.engine != mapreduce.EngineInline {
					return // the rest does not depend on the engine
				}
				// A second run into the same prefix is refused, and
				// replaces it with --overwrite.
				_, err = mapreduce.Run(context.Background(), wordcount.Job, cfg(tc.engine, tc.inputs, out))
				if !errors.Is(err, mapreduce.ErrConfig) || !strings.Contains(err.Error(), "not empty") {
					t.Errorf("second run into %s: err = %v, want a refusal", out, err)
				}
				c := cfg(tc.engine, tc.inputs, out)
				c.Overwrite = true
				if _, err := mapreduce.Run(context.Background(), wordcount.Job, c); err != nil {
					t.Fatalf("--overwrite: %v", err)
				}
				if got := committedLines(t, out); !slices.Equal(got, want) {
					t.Errorf("after --overwrite: %d lines differ from the local job's %d", len(got), len(want))
				}
			})
		}
	}
}

// TestObjectInputErrors checks that a missing bucket, object or prefix, and
// a foreign object in the output prefix, are configuration errors (exit
// status 2) that name the URL at fault.
func TestObjectInputErrors(t *testing.T) {
	dir := t.TempDir()
	b := servers.Bucket(t, "s3", "errors")
	if err := objstore.WriteObject(context.Background(), b+"/in/a.txt", []byte("a b c\n")); err != nil {
		t.Fatal(err)
	}
	if err := objstore.WriteObject(context.Background(), b+"/theirs/data.csv", []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, out, want string }{
		{"s3://no-such-bucket/in", b + "/out", "s3://no-such-bucket/in"},
		{b + "/missing.txt", b + "/out", b + "/missing.txt"},
		{b + "/in/*.gz", b + "/out", b + "/in/*.gz"},
		{b + "/in", b + "/theirs", "data.csv"},
		{b + "/in", b + "/in/a.txt", "is an object"},
		{b + "/in", "s3://no-such-bucket/out", "no-such-bucket"},
		{"gopher://x/y", b + "/out", "gopher://x/y"},
	} {
		_, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{tc.in}, Output: tc.out, TmpDir: dir})
		if !errors.Is(err, mapreduce.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("input %s, output %s: err = %v; want a config error naming %q", tc.in, tc.out, err, tc.want)
		}
	}
	if _, err := objstore.ReadObject(context.Background(), b+"/out/_SUCCESS"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused jobs wrote output: %v", err)
	}
}

// failingStore wraps a store and fails the write of _SUCCESS, so that a
// job fails at the last step of its commit, with every part uploaded.
type failingStore struct{ objstore.Store }

func (s failingStore) NewWriter(ctx context.Context, key string) (io.WriteCloser, error) {
	if strings.HasSuffix(key, "/_SUCCESS") {
		return nil, errors.New("injected upload failure")
	}
	return s.Store.NewWriter(ctx, key)
}

// TestFailedCommitLeavesNoOutput fails a job's upload mid-way and checks
// that the prefix holds no _SUCCESS and no part: nothing a reader could
// take for committed output. Cost: under 1 s.
func TestFailedCommitLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	names := corpus(t, filepath.Join(dir, "in"))
	b := servers.Bucket(t, "s3", "failing")
	upload(t, filepath.Join(dir, "in"), b, "in", names)
	inner, _, err := objstore.Open(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	objstore.Register("s3fail", func(context.Context, string) (objstore.Store, error) { return failingStore{inner}, nil })
	out := "s3fail://failing/out"
	_, err = mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{b + "/in"}, Output: out, Reducers: 3, TmpDir: dir})
	if err == nil || !strings.Contains(err.Error(), "injected upload failure") {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	left, err := inner.List(context.Background(), "out/")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("a failed commit left %v", left)
	}
	if _, err := objstore.ReadSuccess(context.Background(), out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSuccess after a failed commit: %v, want fs.ErrNotExist", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "_quern-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestPipelineObjects runs a pipeline (topwords: word count, then the top
// 30) over objects in one store with its output in the other, on both
// engines, and checks the committed output equals the same pipeline's on
// local files; a second run into the prefix is refused, and --overwrite
// replaces it. Cost: about 2 s.
func TestPipelineObjects(t *testing.T) {
	dir := t.TempDir()
	names := corpus(t, filepath.Join(dir, "in"))
	cfg := func(engine string, inputs []string, out string) mapreduce.Config {
		return mapreduce.Config{Engine: engine, Inputs: inputs, Output: out, Workers: 2, Reducers: 2,
			SplitSize: 16 << 10, TmpDir: dir, Params: map[string]string{"k": "30"}}
	}
	local, err := topwords.Pipeline.Run(context.Background(),
		cfg(mapreduce.EngineInline, []string{filepath.Join(dir, "in")}, filepath.Join(dir, "local-out")))
	if err != nil {
		t.Fatal(err)
	}
	want := localLines(t, &mapreduce.Result{Parts: local.Parts})
	if words := slices.DeleteFunc(slices.Clone(want), func(l string) bool { return l == "" }); len(words) != 30 {
		t.Fatalf("local topwords has %d words, want 30", len(words))
	}
	in := servers.Bucket(t, "s3", "pl-in")
	upload(t, filepath.Join(dir, "in"), in, "logs", names)
	out := servers.Bucket(t, "gs", "pl-out")
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			prefix := out + "/top-" + engine
			res, err := topwords.Pipeline.Run(context.Background(), cfg(engine, []string{in + "/logs"}, prefix))
			if err != nil {
				t.Fatal(err)
			}
			if res.Output != prefix || !strings.HasPrefix(res.Parts[0], prefix+"/part-") {
				t.Errorf("result names output %s and parts %v, want them in %s", res.Output, res.Parts, prefix)
			}
			if got := committedLines(t, prefix); !slices.Equal(got, want) {
				t.Errorf("topwords into %s: %v, want the local run's %v", prefix, got, want)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "_quern-*")); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			_, err = topwords.Pipeline.Run(context.Background(), cfg(engine, []string{in + "/logs"}, prefix))
			if !errors.Is(err, mapreduce.ErrConfig) || !strings.Contains(err.Error(), "not empty") {
				t.Errorf("second run into %s: err = %v, want a refusal", prefix, err)
			}
			c := cfg(engine, []string{in + "/logs"}, prefix)
			c.Overwrite = true
			if _, err := topwords.Pipeline.Run(context.Background(), c); err != nil {
				t.Fatalf("--overwrite: %v", err)
			}
			if got := committedLines(t, prefix); !slices.Equal(got, want) {
				t.Errorf("after --overwrite: %v, want %v", got, want)
			}
		})
	}
}

// prefixObjects maps the objects under the output prefix out (but its
// lock, which comes and goes with each job) to their contents.
func prefixObjects(t *testing.T, out string) map[string]string {
	t.Helper()
	ctx := context.Background()
	s, u, err := objstore.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, u.Dir())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, u.Dir())
		if name == objstore.LockName {
			continue
		}
		data, err := objstore.ReadObject(ctx, u.Join(o.Key))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = string(data)
	}
	return m
}

// TestFailedOverwriteKeepsObjects: a job, and a pipeline, run with
// --overwrite over a finished output in a prefix, that fail before they
// commit (a corrupt .gz among the inputs) leave the previous output object
// for object as it was; a job that succeeds with fewer parts leaves none
// of the previous ones. Cost: about 1 s.
func TestFailedOverwriteKeepsObjects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := servers.Bucket(t, "s3", "keep")
	if err := objstore.WriteObject(ctx, b+"/in/a.txt", bytes.Repeat([]byte("alpha beta gamma delta\n"), 500)); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("cut off words\n"), 2000))
	zw.Close()
	if err := objstore.WriteObject(ctx, b+"/bad/cut.gz", gz.Bytes()[:gz.Len()/2]); err != nil {
		t.Fatal(err)
	}
	cfg := func(out string, reducers int, inputs ...string) mapreduce.Config {
		return mapreduce.Config{Engine: mapreduce.EngineLocal, Inputs: inputs, Output: out, Workers: 2,
			Reducers: reducers, TmpDir: dir, Params: map[string]string{"k": "3"}}
	}
	out := b + "/out"
	if _, err := mapreduce.Run(ctx, wordcount.Job, cfg(out, 3, b+"/in")); err != nil {
		t.Fatal(err)
	}
	before := prefixObjects(t, out)
	if _, ok := before[objstore.SuccessName]; !ok || len(before) != 5 {
		t.Fatalf("the first job's output is %v, want _SUCCESS, _job.json and 3 parts", slices.Sorted(maps.Keys(before)))
	}
	c := cfg(out, 3, b+"/in", b+"/bad/cut.gz")
	c.Overwrite = true
	if _, err := mapreduce.Run(ctx, wordcount.Job, c); !errors.Is(err, mapreduce.ErrConfig) {
		t.Fatalf("overwrite with a corrupt input: err = %v, want a refusal", err)
	}
	if after := prefixObjects(t, out); !maps.Equal(before, after) {
		t.Errorf("a failed overwrite changed the output: %v → %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}

	top := b + "/top"
	if _, err := topwords.Pipeline.Run(ctx, cfg(top, 2, b+"/in")); err != nil {
		t.Fatal(err)
	}
	topBefore := prefixObjects(t, top)
	c = cfg(top, 2, b+"/in", b+"/bad/cut.gz")
	c.Overwrite = true
	if _, err := topwords.Pipeline.Run(ctx, c); err == nil {
		t.Fatal("a pipeline over a corrupt input succeeded")
	}
	if after := prefixObjects(t, top); !maps.Equal(topBefore, after) {
		t.Errorf("a failed overwriting pipeline changed the output: %v → %v", slices.Sorted(maps.Keys(topBefore)), slices.Sorted(maps.Keys(after)))
	}

	c = cfg(out, 1, b+"/in")
	c.Overwrite = true
	if _, err := mapreduce.Run(ctx, wordcount.Job, c); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(prefixObjects(t, out))); !slices.Equal(got, []string{"_SUCCESS", "_job.json", "part-00000"}) {
		t.Errorf("after an overwrite with one reducer the output holds %v", got)
	}
}

// TestUnfinishedObjectOutputRefused: an output prefix with part objects
// beside a job's bookkeeping (its lock while it uploads, Beam's
// _temporary) and no _SUCCESS is refused as input, named, as a folder is;
// a glob over its parts reads them, and a finished output beside it is
// read.
func TestUnfinishedObjectOutputRefused(t *testing.T) {
	ctx := context.Background()
	b := servers.Bucket(t, "s3", "unfinished")
	for _, key := range []string{"runs/ok/part-00000", "runs/ok/_SUCCESS", "runs/half/part-00000", "runs/half/" + objstore.LockName,
		"beam/part-00000", "beam/_temporary/part-x"} {
		if err := objstore.WriteObject(ctx, b+"/"+key, []byte("w\t1\n")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ arg, refused string }{
		{b + "/runs", b + "/runs/half"},
		{b + "/beam/", b + "/beam"},
		{b + "/runs/half/part-*", ""},
		{b + "/runs/ok", ""},
	} {
		_, err := input.Expand([]string{c.arg})
		if c.refused == "" {
			if err != nil {
				t.Errorf("Expand(%s): %v", c.arg, err)
			}
			continue
		}
		if !errors.Is(err, input.ErrUnfinishedOutput) || !strings.Contains(err.Error(), `"`+c.refused+`"`) {
			t.Errorf("Expand(%s): err = %v, want ErrUnfinishedOutput naming %s", c.arg, err, c.refused)
		}
	}
}

// TestDamagedObjectOutputRefused: a word count committed to S3 whose
// part-00001 is overwritten after the commit (shorter), and then deleted,
// is refused as the next job's input, naming the part, and ReadSuccess
// refuses it the same way; before the damage the next job reads it.
// Cost: under 1 s.
func TestDamagedObjectOutputRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	names := corpus(t, filepath.Join(dir, "in"))
	b := servers.Bucket(t, "s3", "damaged")
	upload(t, filepath.Join(dir, "in"), b, "in", names)
	out := b + "/wc"
	run := func(in, out string) error {
		_, err := mapreduce.Run(ctx, wordcount.Job, mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: out, Reducers: 2, TmpDir: dir})
		return err
	}
	if err := run(b+"/in", out); err != nil {
		t.Fatal(err)
	}
	if err := run(out, filepath.Join(dir, "again")); err != nil {
		t.Fatalf("a whole output as input: %v", err)
	}
	for _, damage := range []struct {
		name string
		do   func() error
		want string
	}{
		{"cut short", func() error { return objstore.WriteObject(ctx, out+"/part-00001", []byte("alphaalpha\t1\n")) },
			"part-00001 has 13 bytes, its _SUCCESS says "},
		{"deleted", func() error {
			s, _, err := objstore.Open(ctx, out)
			if err != nil {
				return err
			}
			return s.Delete(ctx, "wc/part-00001")
		}, "part-00001 is missing"},
	} {
		if err := damage.do(); err != nil {
			t.Fatal(err)
		}
		err := run(out, filepath.Join(dir, damage.name))
		if !errors.Is(err, input.ErrDamagedOutput) || !strings.Contains(err.Error(), out+": ") || !strings.Contains(err.Error(), damage.want) {
			t.Errorf("%s: next job: err = %v, want ErrDamagedOutput naming %s and saying %q", damage.name, err, out, damage.want)
		}
		if _, err := objstore.ReadSuccess(ctx, out); !errors.Is(err, input.ErrDamagedOutput) || !strings.Contains(err.Error(), damage.want) {
			t.Errorf("%s: ReadSuccess: err = %v, want it to say %q", damage.name, err, damage.want)
		}
	}
}
