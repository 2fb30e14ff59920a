package input

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/quern-dev/quern/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestProcFileRefused: a file of /proc has a size of 0 and content, so a
// plan made from its size would read it as empty and the job would answer
// with nothing, exit 0. It is refused, named; an empty file, found in a
// folder or named, still reads as empty (and is opened to tell them apart,
// even where small files are not).
func TestProcFileRefused(t *testing.T) {
	_, err := ExpandWith([]string{"/proc/self/status"}, ExpandOptions{GuessUpTo: 1 << 20})
	require.ErrorIs(t, err, ErrNotRegular)
	require.ErrorContains(t, err, "/proc/self/status has content but a size of 0")

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a line\n"), 0o644))
	files, err := ExpandWith([]string{dir, empty}, ExpandOptions{GuessUpTo: 1 << 20})
	require.NoError(t, err)
	require.Len(t, files, 2)
	require.Equal(t, empty, files[1].Path)
	require.Zero(t, files[1].Size)
}

// TestStatAtIsLstat: a file stat'ed by its name in its open directory is
// described as os.Lstat describes it, for each kind of entry a folder can
// hold, since the checks decide from it what the file is.
func TestStatAtIsLstat(t *testing.T) {
	dir := t.TempDir()
	j := func(name string) string { return filepath.Join(dir, name) }
	require.NoError(t, os.WriteFile(j("file.txt"), []byte("some words\n"), 0o640))
	require.NoError(t, os.WriteFile(j("setid"), []byte("x"), 0o644))
	require.NoError(t, os.Chmod(j("setid"), 0o755|os.ModeSetuid|os.ModeSetgid))
	require.NoError(t, os.Mkdir(j("sticky"), 0o755))
	require.NoError(t, os.Chmod(j("sticky"), 0o777|os.ModeSticky))
	require.NoError(t, os.Symlink("file.txt", j("link")))
	require.NoError(t, syscall.Mkfifo(j("fifo"), 0o600))
	l, err := net.Listen("unix", j("socket"))
	require.NoError(t, err)
	defer l.Close()
	past := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	require.NoError(t, os.Chtimes(j("file.txt"), past, past))

	f, err := os.Open(dir)
	require.NoError(t, err)
	defer f.Close()
	for _, name := range []string{"file.txt", "setid", "sticky", "link", "fifo", "socket"} {
		want, err := os.Lstat(j(name))
		require.NoError(t, err)
		got, err := statAt(int(f.Fd()), name, j(name))
		require.NoError(t, err)
		require.Equal(t, want.Name(), got.Name(), name)
		require.Equal(t, want.Mode(), got.Mode(), name)
		require.Equal(t, want.IsDir(), got.IsDir(), name)
		require.Equal(t, want.ModTime(), got.ModTime(), name)
		if want.Mode().IsRegular() {
			require.Equal(t, want.Size(), got.Size(), name)
		}
		require.Equal(t, want.Sys(), got.Sys(), name)
	}
	_, err = statAt(int(f.Fd()), "missing", j("missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "lstat "+j("missing"))
}

// TestExpandClosesItsDirectories: the directories the walk keeps open for
// the checks of their files are closed when Expand returns, whether it
// found the files, a check failed, or the listing was stopped.
func TestExpandClosesItsDirectories(t *testing.T) {
	dir := t.TempDir()
	for d := range 5 {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", d), "deeper")
		require.NoError(t, os.MkdirAll(sub, 0o755))
		for f := range 100 {
			require.NoError(t, os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.txt", f)), []byte("a line\n"), 0o644))
		}
	}
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "a.txt"), []byte("a line\n"), 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(bad, "b.fifo"), 0o600))

	before := testenv.OpenDescriptors(t)
	files, err := Expand([]string{dir, filepath.Join(dir, "d*", "*", "*.txt")})
	require.NoError(t, err)
	require.Len(t, files, 500)
	_, err = Expand([]string{dir, bad})
	require.ErrorIs(t, err, ErrNotRegular)
	for _, after := range []int64{0, 3, 250} {
		ctx := &doneAfter{Context: context.Background()}
		ctx.n.Store(after)
		_, err = ExpandContext(ctx, []string{dir}, ExpandOptions{})
		require.ErrorIs(t, err, context.Canceled)
	}
	require.Equal(t, before, testenv.OpenDescriptors(t), "descriptors open before and after")
}
