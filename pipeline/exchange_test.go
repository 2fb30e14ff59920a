package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
)

// TestExchangeFiles writes pairs for three partitions through the
// exchange writer, reads each partition's file back in order, and checks
// that a truncated or corrupted file is refused, naming it.
func TestExchangeFiles(t *testing.T) {
	dir := t.TempDir()
	rt := &taskAttempt{tc: mapreduce.NewTaskContext(context.Background(), "j", "t", 1, nil, slog.Default())}
	// A small budget: blocks are flushed many times.
	w := newExchangeWriter(filepath.Join(dir, "c00"), 3, 1, rt)
	sent := map[int][]string{}
	for i := range 20000 {
		k, v := fmt.Appendf(nil, "key-%d", i), fmt.Appendf(nil, "value-%d", i*i)
		w.add(k, v)
		p := shuffle.HashPartitioner{}.Partition(k, 3)
		sent[p] = append(sent[p], string(k)+"="+string(v))
	}
	runs, err := w.close()
	require.NoError(t, err)
	require.Len(t, runs, 3)
	for _, r := range runs {
		var p int
		for q, n := range r.PartitionRecords {
			if n > 0 {
				p = q
			}
		}
		var got []string
		require.NoError(t, readExchange(r.Path, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		}))
		require.Equal(t, sent[p], got, "partition %d", p)
		require.EqualValues(t, len(got), r.PartitionRecords[p])
	}

	data, err := os.ReadFile(runs[0].Path)
	require.NoError(t, err)
	broken := filepath.Join(dir, "broken.xch")
	nothing := func(k, v []byte) error { return nil }
	require.NoError(t, os.WriteFile(broken, data[:len(data)-12], 0o644))
	require.ErrorContains(t, readExchange(broken, nothing), "broken.xch: truncated")
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x40
	require.NoError(t, os.WriteFile(broken, flipped, 0o644))
	require.ErrorContains(t, readExchange(broken, nothing), "broken.xch: block checksum mismatch")

	// A corrupt block length fails as a truncated file, without first
	// allocating the 2 GiB it claims.
	huge := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(huge[8:], 1<<31)
	require.NoError(t, os.WriteFile(broken, huge, 0o644))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	require.ErrorContains(t, readExchange(broken, nothing), "broken.xch: truncated")
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated reading a corrupt block length")
}

// TestBlobFiles checks a blob's round trip and that a truncated or
// corrupted blob is refused.
func TestBlobFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.blob")
	payload := []byte("the state of partition 3, round 7")
	_, err := writeBlob(path, payload)
	require.NoError(t, err)
	got, err := readBlob(path)
	require.NoError(t, err)
	require.Equal(t, payload, got)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)-1], 0o644))
	_, err = readBlob(path)
	require.ErrorContains(t, err, "truncated")
	data[len(data)-3] ^= 1
	require.NoError(t, os.WriteFile(path, data, 0o644))
	_, err = readBlob(path)
	require.ErrorContains(t, err, "checksum mismatch")
}

// TestStateCacheKeepsAlignedStates checks State's promise that a state's
// first byte is 8-byte aligned when the worker serves it from memory: a
// state set from an unaligned slice is not kept, and is read from its file.
func TestStateCacheKeepsAlignedStates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.blob")
	words := make([]uint64, 3)
	state := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), 24)[1:] // unaligned
	copy(state, "an unaligned state")
	_, err := writeBlob(path, state)
	require.NoError(t, err)
	var c stateCache
	c.keep(path, state, 1<<20)
	got, err := c.read(path, 1<<20)
	require.NoError(t, err)
	require.Equal(t, state, got)
	require.Zero(t, uintptr(unsafe.Pointer(unsafe.SliceData(got)))%8, "the state read is not 8-byte aligned")
	c.forget([]string{path})
}
