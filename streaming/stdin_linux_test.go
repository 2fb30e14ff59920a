package streaming

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExitsWithInputUnread: a program that exits, status 0, after reading
// part of an input small enough to sit whole in its stdin's buffer fails
// the attempt. No write of the worker's fails there (it has written
// everything before the program stops), so only the socket can tell: a
// reducer `head -1` over a partition of 200 KB used to pass or fail by
// how the processes were scheduled, and a retry committed its cut-short
// output. The shell's read takes one line, byte by byte, and leaves the
// rest. A program that reads its input to the end, or reads exactly all
// of it without waiting for end of file, passes: what it did with the
// bytes it read is its own business.
func TestExitsWithInputUnread(t *testing.T) {
	lines := []string{"a\t1", "b\t2", "c\t3"} // 12 bytes, far below the buffer
	const readOne = `IFS= read -r line; printf '%s\n' "$line"`
	for range 20 { // the outcome must not depend on timing
		got, err := run(t, Options{Role: "reducer", Command: readOne}, lines...)
		require.Error(t, err)
		require.Contains(t, err.Error(), "stopped reading its input before the end")
		require.Contains(t, err.Error(), fmt.Sprintf("reducer %q", readOne))
		require.Equal(t, []pair{{"a", "1"}}, got, "the output it wrote still reached emit")

		got, err = run(t, Options{Command: "cat"}, lines...)
		require.NoError(t, err)
		require.Len(t, got, 3)

		got, err = run(t, Options{Command: "head -c 12"}, lines...) // all 12 bytes, no end of file read
		require.NoError(t, err)
		require.Len(t, got, 3)
	}
}
