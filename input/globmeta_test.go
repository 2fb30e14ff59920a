package input

import "testing"

// Windows paths are not patterns: `\` separates there, and only `*?[` make
// a glob. The Windows rule is pure string logic, so it is checked here on
// every platform.
func TestHasGlobMeta(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		sep  rune
		want bool
	}{
		{`C:\data\books.txt`, '\\', false},
		{`C:\data`, '\\', false},
		{`\\server\share\logs\day1.log`, '\\', false},
		{`C:\data\*.txt`, '\\', true},
		{`C:\data\day?.log`, '\\', true},
		{`C:\data\[ab].csv`, '\\', true},
		{`/data/books.txt`, '/', false},
		{`/data/*.txt`, '/', true},
		{`/data/a\*b.txt`, '/', true}, // an escaped star is still a pattern
		{`/data/back\slash`, '/', true},
	} {
		if got := hasGlobMeta(tc.arg, tc.sep); got != tc.want {
			t.Errorf("hasGlobMeta(%q, %q) = %v, want %v", tc.arg, tc.sep, got, tc.want)
		}
	}
}
