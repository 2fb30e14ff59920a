package uring

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// readFilesOrSkip is ReadFiles with a stat that fstats each file, and
// returns the stats; the test is skipped where the kernel offers no
// io_uring (a seccomp profile, the sysctl), since callers then read the
// files themselves and nothing here runs.
func readFilesOrSkip(t *testing.T, reads []Read) []unix.Stat_t {
	t.Helper()
	stats := make([]unix.Stat_t, len(reads))
	err := ReadFiles(reads, func(i, fd int) error {
		if stats[i].Nlink != 0 {
			return fmt.Errorf("file %d stat'ed twice", i)
		}
		return unix.Fstat(fd, &stats[i])
	})
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("io_uring cannot be used here: %v", err)
	}
	require.NoError(t, err)
	return stats
}

// content is the distinct content of the i-th test file, n bytes.
func content(i, n int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%d;", i)), n)[:n]
}

// Every file is read whole and handed to the stat open, the file os.Stat
// sees; a file that cannot be opened or read has its error, naming it, and
// does not stop the others.
func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	sizes := []int{0, 1, 100, 4095, 4096, 4097, 10 << 10}
	var reads []Read
	for i, n := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("f%d", i))
		require.NoError(t, os.WriteFile(path, content(i, n), 0o644))
		reads = append(reads, Read{Path: path, Buf: make([]byte, n+1)})
	}
	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, content(99, 5000), 0o644))
	missing := filepath.Join(dir, "missing")
	reads = append(reads,
		Read{Path: big, Buf: make([]byte, 4000)},
		Read{Path: missing, Buf: make([]byte, 10)},
		Read{Path: dir, Buf: make([]byte, 10)}, // a folder opens, and cannot be read
	)
	stats := readFilesOrSkip(t, reads)

	for i, n := range sizes {
		r := reads[i]
		require.NoError(t, r.Err, r.Path)
		require.Equal(t, content(i, n), r.Buf[:r.N], r.Path)
		fi, err := os.Stat(r.Path)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, st.Ino, stats[i].Ino, "%s: stat of another file", r.Path)
		require.Equal(t, int64(n), stats[i].Size, r.Path)
	}

	r := reads[len(sizes)]
	require.NoError(t, r.Err)
	require.Equal(t, len(r.Buf), r.N, "a file longer than its buffer fills it")
	require.Equal(t, int64(5000), stats[len(sizes)].Size)

	var pathErr *fs.PathError
	r = reads[len(sizes)+1]
	require.ErrorIs(t, r.Err, fs.ErrNotExist)
	require.ErrorAs(t, r.Err, &pathErr)
	require.Equal(t, "open", pathErr.Op)
	require.Contains(t, r.Err.Error(), missing)

	r = reads[len(sizes)+2]
	require.ErrorIs(t, r.Err, syscall.EISDIR)
	require.ErrorAs(t, r.Err, &pathErr)
	require.Equal(t, "read", pathErr.Op)
	require.Equal(t, dir, pathErr.Path)
	require.Zero(t, stats[len(sizes)+1].Nlink, "a file not opened is not stat'ed")
	require.Zero(t, stats[len(sizes)+2].Nlink, "a file not read is not stat'ed")
}

// The stat's error is the file's, and the others are read on.
func TestReadFilesStatError(t *testing.T) {
	dir := t.TempDir()
	reads := make([]Read, 3)
	for i := range reads {
		reads[i] = Read{Path: filepath.Join(dir, fmt.Sprint(i)), Buf: make([]byte, 10)}
		require.NoError(t, os.WriteFile(reads[i].Path, content(i, 5), 0o644))
	}
	failed := errors.New("changed")
	err := ReadFiles(reads, func(i, fd int) error {
		if i == 1 {
			return failed
		}
		return nil
	})
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("io_uring cannot be used here: %v", err)
	}
	require.NoError(t, err)
	require.NoError(t, reads[0].Err)
	require.ErrorIs(t, reads[1].Err, failed)
	require.NoError(t, reads[2].Err)
	require.Equal(t, content(2, 5), reads[2].Buf[:reads[2].N])
}

// More files than a batch holds are read in several, each file into its
// own buffer, and no descriptor is left open, whatever became of the file.
func TestReadFilesBatchesAndClosesEveryFile(t *testing.T) {
	dir := t.TempDir()
	const n = 3*batchFiles + 7
	reads := make([]Read, n)
	for i := range reads {
		path := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		if i%10 != 3 { // every tenth is missing
			require.NoError(t, os.WriteFile(path, content(i, 50+i), 0o644))
		}
		reads[i] = Read{Path: path, Buf: make([]byte, 51+i)}
	}
	reads[5].Path = dir // opened, not read
	openBefore := testenv.OpenDescriptors(t)
	stats := readFilesOrSkip(t, reads)
	require.Equal(t, openBefore, testenv.OpenDescriptors(t), "descriptors open before and after")
	for i, r := range reads {
		switch {
		case i == 5:
			require.ErrorIs(t, r.Err, syscall.EISDIR)
		case i%10 == 3:
			require.ErrorIs(t, r.Err, fs.ErrNotExist, r.Path)
		default:
			require.NoError(t, r.Err, r.Path)
			require.Equal(t, content(i, 50+i), r.Buf[:r.N], r.Path)
			require.Equal(t, int64(50+i), stats[i].Size, "%s: the stat of file %d is another's", r.Path, i)
		}
	}
}

// Calls from several goroutines take turns on the one ring: each gets its
// own files. (Run under -race in CI.)
func TestReadFilesConcurrently(t *testing.T) {
	dir := t.TempDir()
	const goroutines, files = 4, 150
	for i := range goroutines * files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), content(i, 20+i%300), 0o644))
	}
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			reads := make([]Read, files)
			for j := range reads {
				i := g*files + j
				reads[j] = Read{Path: filepath.Join(dir, fmt.Sprint(i)), Buf: make([]byte, 21+i%300)}
			}
			if errs[g] = ReadFiles(reads, func(int, int) error { return nil }); errs[g] != nil {
				return
			}
			for j, r := range reads {
				i := g*files + j
				if r.Err != nil || !bytes.Equal(r.Buf[:r.N], content(i, 20+i%300)) {
					errs[g] = fmt.Errorf("file %d: read %q, %v", i, r.Buf[:r.N], r.Err)
					return
				}
			}
		})
	}
	wg.Wait()
	if errors.Is(errs[0], errors.ErrUnsupported) {
		t.Skipf("io_uring cannot be used here: %v", errs[0])
	}
	require.NoError(t, errors.Join(errs...))
}
