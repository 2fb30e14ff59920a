package beamjob

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// TestCommitOnlyManifestParts checks the commit rule that keeps retried
// bundles from duplicating output: only parts named in a manifest become
// part files, a name repeated by a retried manifest bundle counts once, and
// the files of failed attempts go away with _temporary.
func TestCommitOnlyManifestParts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	dir, err := commit.Open(out, commit.Options{})
	require.NoError(t, err)
	defer dir.Close()
	tmp := dir.Temp()
	job, err := lookupJob("wordcount")
	require.NoError(t, err)
	pl := &Plan{cfg: Config{Job: "wordcount", Output: out}, job: job, opts: output.Options{}, tmp: tmp, out: dir}

	write := func(name, data string) {
		require.NoError(t, os.WriteFile(filepath.Join(tmp, name), []byte(data), 0o644))
	}
	write("part-aaa", "a\t1\n")
	write("part-bbb", "b\t2\n")
	write("part-failed", "a\t1\n") // a failed attempt of the bundle that wrote part-aaa
	write(".manifest-half", "part-failed\n")
	write(manifestPrefix+"1", "part-bbb\t{\"reduce_output_records\":1}\npart-aaa\t{\"reduce_output_records\":1}\n")
	write(manifestPrefix+"2", "part-aaa\t{\"reduce_output_records\":1}\n") // a retried manifest bundle
	write(manifestPrefix+"3", mapCountersPrefix+"x\t{\"map_input_records\":2}\n")

	parts, counters, err := pl.commitParts()
	require.NoError(t, err)
	require.Equal(t, mapreduce.Counters{"reduce_output_records": 2, "map_input_records": 2}, counters)
	require.Equal(t, []string{filepath.Join(out, "part-00000"), filepath.Join(out, "part-00001")}, parts)
	for i, want := range []string{"a\t1\n", "b\t2\n"} {
		data, err := os.ReadFile(parts[i])
		require.NoError(t, err)
		require.Equal(t, want, string(data))
	}
	require.NoError(t, dir.Commit([]byte("{}"), nil))
	require.NoDirExists(t, tmp)
}

func TestCommitRefusesBadManifest(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	tmp := filepath.Join(out, "_temporary")
	require.NoError(t, os.MkdirAll(tmp, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, manifestPrefix+"x"), []byte("../escape\n"), 0o644))
	job, err := lookupJob("wordcount")
	require.NoError(t, err)
	pl := &Plan{cfg: Config{Job: "wordcount", Output: out}, job: job, tmp: tmp}
	_, _, err = pl.commitParts()
	require.ErrorContains(t, err, "bad part name")
}

func TestArenaCopiesAreStable(t *testing.T) {
	var a arena
	buf := []byte("hello")
	c := a.copy(buf)
	buf[0] = 'j'
	require.Equal(t, "hello", string(c))
	d := a.copy([]byte("world"))
	require.Equal(t, "hello", string(c), "a later copy must not overwrite an earlier one")
	require.Equal(t, "world", string(d))
	require.Equal(t, len(c), cap(c), "appending to a copy must not reach the next one")
	big := make([]byte, arenaChunk)
	require.Equal(t, big, a.copy(big))
}
