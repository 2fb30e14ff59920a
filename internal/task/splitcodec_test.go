package task

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/testenv"
	"github.com/stretchr/testify/require"
)

// codecSplits are splits of every kind: tiny files in two folders, a big
// file cut in three, a guessed file, a chunk and its cut rest, an object, Parquet row
// groups, a file made by hand (no ModTime).
func codecSplits(files int) []input.Split {
	mod := time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.UTC)
	var ss []input.Split
	add := func(s input.Split) { s.Index = len(ss); ss = append(ss, s) }
	for i := range files {
		f := input.File{Path: fmt.Sprintf("/data/logs/%d/part-%05d.log", i%2, i), Size: 10240 + int64(i),
			ModTime: mod.Add(time.Duration(i)), ID: input.FileID{Device: 2049, Inode: uint64(1e6 + i)}, Guessed: i%3 == 0}
		add(input.Split{File: f, End: f.Size})
	}
	big := input.File{Path: "big.txt", Size: 300, ModTime: mod, ID: input.FileID{Device: 1, Inode: 2}, EdgeSum: 0xfedcba9876543210}
	for start := int64(0); start < 300; start += 100 {
		add(input.Split{File: big, Start: start, End: start + 100})
	}
	gz := input.File{Path: "/in/a.gz", Size: 77, Compression: input.Gzip, ModTime: mod}
	add(input.Split{File: gz, Start: 4096, End: 8192, Chunk: "/tmp/work/map-00000/chunks/chunk-00001"})
	add(input.Split{File: gz, Start: 6000, End: 8192, Chunk: "/tmp/work/map-00000/chunks/chunk-00001", ChunkOffset: 1904})
	add(input.Split{File: input.File{Path: "s3://bucket/k/x.zst", Size: 9, Compression: input.Zstd, Version: `"etag"`}, End: 9})
	add(input.Split{File: input.File{Path: "t.parquet", Size: 5000, Format: input.Parquet, ModTime: mod}, Start: 2, End: 4, Unit: input.RowGroups, FirstRow: 0})
	add(input.Split{File: input.File{Path: "t.arrow", Size: 5000, Format: input.Arrow, ModTime: mod}, Start: 1, End: 3, Unit: input.Batches, FirstRow: 4242})
	add(input.Split{File: input.File{Path: "by hand.txt", Size: -1}, Start: -5, End: 1 << 62})
	return ss
}

// TestMapSpecRoundTrip: a spec crosses to a worker and back unchanged,
// its splits in the compact form.
func TestMapSpecRoundTrip(t *testing.T) {
	spec := MapSpec{Job: "wordcount", TaskID: "map-00001", Attempt: 2, Input: input.Task{Splits: codecSplits(50)},
		Reducers: 3, Params: map[string]string{"k": "v"}, Dir: "/w"}
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	var got MapSpec
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, spec, got)

	empty := MapSpec{Job: "j"}
	b, err = json.Marshal(empty)
	require.NoError(t, err)
	got = MapSpec{}
	require.NoError(t, json.Unmarshal(b, &got))
	require.Empty(t, got.Input.Splits)
	require.Equal(t, "j", got.Job)
}

// TestEncodeSpec: EncodeSpec writes what json.Marshal writes, for a spec
// with its own MarshalJSON and one without, and DecodeSpec reads it back;
// a damaged payload is an error.
func TestEncodeSpec(t *testing.T) {
	spec := MapSpec{Job: "wordcount", TaskID: "map-00001", Attempt: 2, Input: input.Task{Splits: codecSplits(50)},
		Reducers: 3, Params: map[string]string{"k": "v"}, Dir: "/w"}
	for _, v := range []any{spec, mapSpecFields{Job: "j", TaskID: "map-00002"}} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := EncodeSpec(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	b, err := EncodeSpec(spec)
	require.NoError(t, err)
	var back MapSpec
	require.NoError(t, DecodeSpec(b, &back))
	require.Equal(t, spec, back)
	var plain mapSpecFields
	require.NoError(t, DecodeSpec([]byte(`{"Job":"j"}`), &plain))
	require.Equal(t, "j", plain.Job)
	require.Error(t, DecodeSpec(b[:len(b)/2], &back))
	require.Error(t, DecodeSpec([]byte(`{"Job":"j"} x`), &back))
}

// TestDecodeSplitsRefusesDamage: every cut of an encoded list, and a
// wrong version, is an error, never a panic or a shorter list.
func TestDecodeSplitsRefusesDamage(t *testing.T) {
	b := appendSplits(nil, codecSplits(5))
	for n := range len(b) {
		if _, err := decodeSplits(b[:n]); err == nil {
			t.Fatalf("a list cut to %d of %d bytes decoded", n, len(b))
		}
	}
	bad := append([]byte{9}, b[1:]...)
	_, err := decodeSplits(bad)
	require.ErrorIs(t, err, errSplitCodec)
	_, err = decodeSplits(append(b, 0))
	require.ErrorIs(t, err, errSplitCodec)
}

// BenchmarkMapSpecCodec encodes and decodes the spec of a packed task of
// 2,600 tiny files, as the driver and a worker do (ns/op is per spec):
// "direct" as MapSpec crosses now (its own MarshalJSON and UnmarshalJSON,
// as EncodeSpec and DecodeSpec call them), "compact" the same through
// json.Marshal and json.Unmarshal, which scan the whole encoding once more
// around the methods, and "json" every split as JSON, as it once did
// (mapSpecFields has no MarshalJSON).
func BenchmarkMapSpecCodec(b *testing.B) {
	spec := MapSpec{Job: "wordcount", TaskID: "map-00001", Input: input.Task{Splits: codecSplits(2600)}}
	b.Run("direct", func(b *testing.B) {
		cpu := testenv.CPUTime()
		n := 0
		for b.Loop() {
			n++
			enc, err := EncodeSpec(spec)
			if err != nil {
				b.Fatal(err)
			}
			var into MapSpec
			if err := DecodeSpec(enc, &into); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(n), "cpu-ns/op")
	})
	b.Run("compact", func(b *testing.B) { benchCodec(b, spec, &MapSpec{}) })
	b.Run("json", func(b *testing.B) { benchCodec(b, mapSpecFields(spec), &mapSpecFields{}) })
}

func benchCodec[T any](b *testing.B, spec T, into *T) {
	enc, _ := json.Marshal(spec)
	cpu := testenv.CPUTime()
	n := 0
	for b.Loop() {
		n++
		enc, err := json.Marshal(spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(enc, into); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(len(enc)), "bytes/spec")
}
