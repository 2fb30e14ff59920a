package pathfmt

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		path          string
		unix, windows string
	}{
		{`C:\Users\ann\data\x.txt`, `"C:\\Users\\ann\\data\\x.txt"`, `"C:\Users\ann\data\x.txt"`},
		{`\\server\share\in\*.csv`, `"\\\\server\\share\\in\\*.csv"`, `"\\server\share\in\*.csv"`},
		{`/home/ann/my data/x.txt`, `"/home/ann/my data/x.txt"`, `"/home/ann/my data/x.txt"`},
		{"a\tb\n\"c\"\\d\x01", `"a\tb\n\"c\"\\d\x01"`, `"a\tb\n\"c\"\d\x01"`},
		{`C:\`, `"C:\\"`, `"C:\"`},
		{"", `""`, `""`},
	} {
		require.Equal(t, tc.unix, quote(tc.path, '/'), "unix: %s", tc.path)
		require.Equal(t, tc.windows, quote(tc.path, '\\'), "windows: %s", tc.path)
	}
}

// The platform's own rule: a path in this platform's form is printed with
// each separator once, on every platform.
func TestQuoteThisPlatform(t *testing.T) {
	p := filepath.Join("data", "in", "x.txt")
	require.Equal(t, `"`+p+`"`, Quote(p))
	require.Equal(t, fmt.Sprintf("%q", "a\tb"), Quote("a\tb"))
}

// TestWrap: the path is added unless the error names it already.
func TestWrap(t *testing.T) {
	named := &fs.PathError{Op: "sync", Path: "out/part-00000", Err: syscall.ENOSPC}
	require.Equal(t, "close output: sync out/part-00000: no space left on device", Wrap("close output", "out/part-00000", named).Error())
	require.Equal(t, "close output out/part-00000: sync out/part-00001: no space left on device",
		Wrap("close output", "out/part-00000", &fs.PathError{Op: "sync", Path: "out/part-00001", Err: syscall.ENOSPC}).Error())
	short := errors.New("short write")
	require.Equal(t, "close output out/part-00000: short write", Wrap("close output", "out/part-00000", short).Error())
	require.ErrorIs(t, Wrap("close output", "out/part-00000", named), syscall.ENOSPC)
}
