package spill

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Arrow's zstd decoders start goroutines; every one must be gone once
	// iterators are closed.
	goleak.VerifyTestMain(m)
}

// rec is one test record.
type rec struct {
	part       int
	key, value string
}

func sortRecs(rs []rec) {
	slices.SortStableFunc(rs, func(a, b rec) int {
		if a.part != b.part {
			return a.part - b.part
		}
		return bytes.Compare([]byte(a.key), []byte(b.key))
	})
}

// writeRun writes sorted records with a Writer and returns the path.
func writeRun(t testing.TB, rs []rec, opts Options) (string, Info) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run")
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := w.Add(r.part, []byte(r.key), []byte(r.value)); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return path, info
}

// readAll reads every partition of a run back as records.
func readAll(t testing.TB, path string) ([]rec, error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []rec
	for p := 0; p < r.Partitions(); p++ {
		it, err := r.Segment(p)
		if err != nil {
			return out, err
		}
		var n int64
		for kv := it.Next(); kv != nil; kv = it.Next() {
			out = append(out, rec{p, string(kv.Key), string(kv.Value)})
			n++
		}
		if err := it.Close(); err != nil {
			return out, err
		}
		if n != r.Records(p) {
			return out, fmt.Errorf("partition %d: read %d records, index says %d", p, n, r.Records(p))
		}
	}
	return out, nil
}

func randRecs(rng *rand.Rand, n, parts int, emptyEvery int) []rec {
	rs := make([]rec, 0, n)
	for i := 0; i < n; i++ {
		p := rng.IntN(parts)
		if emptyEvery > 0 && p%emptyEvery == 1 {
			p-- // leave some partitions empty
		}
		k := make([]byte, rng.IntN(12))
		for j := range k {
			k[j] = byte('a' + rng.IntN(4))
		}
		v := fmt.Sprint(i)
		if i%7 == 0 {
			v = ""
		}
		rs = append(rs, rec{p, string(k), v})
	}
	sortRecs(rs)
	return rs
}

func TestRoundTrip(t *testing.T) {
	for _, comp := range []Compression{NoCompression, LZ4Compression, ZstdCompression} {
		for _, parts := range []int{1, 3, 64} {
			for _, n := range []int{0, 1, 1000} {
				t.Run(fmt.Sprintf("%s/p%d/n%d", comp, parts, n), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(parts), uint64(n)))
					rs := randRecs(rng, n, parts, 3)
					// Small blocks so that 1000 records make many blocks.
					path, info := writeRun(t, rs, Options{Partitions: parts, Compression: comp, BlockSize: 512})
					got, err := readAll(t, path)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, rs) {
						t.Fatalf("read back %d records, wrote %d; first difference matters", len(got), len(rs))
					}
					checkInfo(t, info, rs, parts)
				})
			}
		}
	}
}

func checkInfo(t *testing.T, info Info, rs []rec, parts int) {
	t.Helper()
	st, err := os.Stat(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != st.Size() {
		t.Errorf("Info.Bytes = %d, file is %d", info.Bytes, st.Size())
	}
	if info.Records != int64(len(rs)) || len(info.PartitionRecords) != parts || len(info.PartitionBytes) != parts {
		t.Fatalf("Info = %+v for %d records in %d partitions", info, len(rs), parts)
	}
	want := make([]int64, parts)
	for _, r := range rs {
		want[r.part]++
	}
	if !slices.Equal(info.PartitionRecords, want) {
		t.Errorf("PartitionRecords = %v, want %v", info.PartitionRecords, want)
	}
	r, err := Open(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for p := range parts {
		if (want[p] == 0) != (info.PartitionBytes[p] == 0) || r.SegmentBytes(p) != info.PartitionBytes[p] {
			t.Errorf("partition %d: %d records, PartitionBytes %d, SegmentBytes %d", p, want[p], info.PartitionBytes[p], r.SegmentBytes(p))
		}
	}
}

func TestOutOfOrder(t *testing.T) {
	cases := []struct {
		name string
		recs []rec
	}{
		{"key", []rec{{0, "b", ""}, {0, "a", ""}}},
		{"partition", []rec{{1, "a", ""}, {0, "b", ""}}},
		{"keyAfterEmpty", []rec{{0, "a", ""}, {0, "", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run")
			w, err := Create(path, Options{Partitions: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			if err := w.Add(c.recs[0].part, []byte(c.recs[0].key), nil); err != nil {
				t.Fatal(err)
			}
			if err := w.Add(c.recs[1].part, []byte(c.recs[1].key), nil); !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("Add out of order: %v, want ErrOutOfOrder", err)
			}
			// The writer stays failed: no valid file can come of it.
			if err := w.Add(1, []byte("z"), nil); !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("Add after failure: %v", err)
			}
			if _, err := w.Close(); !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("Close after failure: %v", err)
			}
			if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open of a failed run: %v, want ErrCorrupt", err)
			}
		})
	}
}
