package blobstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
)

// TestColumnarObjects writes word count's Parquet and Arrow output to S3
// and GCS and checks that each committed part has the bytes of the same
// job's part on a local disk (so the same typed columns DuckDB and Arrow
// read there), then reads those Parquet and Arrow objects back as a job's
// input and checks the result equals the same job over the local files.
// Cost: about 2 s.
func TestColumnarObjects(t *testing.T) {
	dir := t.TempDir()
	names := corpus(t, filepath.Join(dir, "in"))
	ctx := context.Background()
	run := func(t *testing.T, inputs []string, out, format string) *mapreduce.Result {
		t.Helper()
		res, err := mapreduce.Run(ctx, wordcount.Job, mapreduce.Config{Engine: mapreduce.EngineLocal, Inputs: inputs,
			Output: out, Workers: 2, Reducers: 2, TmpDir: dir, OutputFormat: format})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, format := range []string{"parquet", "arrow"} {
		local := run(t, []string{filepath.Join(dir, "in")}, filepath.Join(dir, "local-"+format), format)
		// The local columnar output read back as input, for the text
		// the same job gives over objects.
		want := localLines(t, run(t, local.Parts, filepath.Join(dir, "local-"+format+"-again"), ""))
		for _, scheme := range []string{"s3", "gs"} {
			t.Run(format+"/"+scheme, func(t *testing.T) {
				b := servers.Bucket(t, scheme, "col-"+format+"-"+scheme)
				upload(t, filepath.Join(dir, "in"), b, "in", names)
				out := b + "/out"
				run(t, []string{b + "/in"}, out, format)
				parts, err := objstore.ReadSuccess(ctx, out)
				if err != nil {
					t.Fatal(err)
				}
				if len(parts) != len(local.Parts) {
					t.Fatalf("%d parts in %s, %d in the local output", len(parts), out, len(local.Parts))
				}
				for i, p := range parts {
					got, err := objstore.ReadObject(ctx, p)
					if err != nil {
						t.Fatal(err)
					}
					wantPart, err := os.ReadFile(local.Parts[i])
					if err != nil {
						t.Fatal(err)
					}
					if filepath.Ext(p) != filepath.Ext(local.Parts[i]) || !bytes.Equal(got, wantPart) {
						t.Errorf("%s (%d bytes) differs from the local part %s (%d bytes)", p, len(got), local.Parts[i], len(wantPart))
					}
				}
				again := run(t, parts, filepath.Join(dir, "again-"+format+"-"+scheme), "")
				if got := localLines(t, again); len(want) == 0 || !slices.Equal(got, want) {
					t.Errorf("a job over the %s objects gave %d lines, over the local files %d", format, len(got), len(want))
				}
			})
		}
	}
}
