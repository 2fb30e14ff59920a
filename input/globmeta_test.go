package input

import (
	"slices"
	"testing"
)

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

// On Windows a backslash before a brace or a comma is a separator, not an
// escape: C:\logs\{2024,2025} stands for two folders. On Unix it escapes.
func TestBackslashBeforeBraces(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		sep  rune
		want []string
	}{
		{`C:\logs\{2024,2025}\01`, '\\', []string{`C:\logs\2024\01`, `C:\logs\2025\01`}},
		{`\\server\share\{a,b\c}`, '\\', []string{`\\server\share\a`, `\\server\share\b\c`}},
		{`/logs/\{2024,2025\}`, '/', []string{`/logs/\{2024,2025\}`}},
		{`/logs/{a\,b,c}`, '/', []string{`/logs/a\,b`, `/logs/c`}},
	} {
		got, err := expandBracesSep(tc.arg, tc.sep)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("expandBracesSep(%q, %q) = %q, %v; want %q", tc.arg, tc.sep, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		sep  rune
		want []string
	}{
		{`C:\in\{a,b},D:\x`, '\\', []string{`C:\in\{a,b}`, `D:\x`}},
		{`C:\in\,D:\x`, '\\', []string{`C:\in\`, `D:\x`}},
		{`/in/a\,b,/x`, '/', []string{`/in/a\,b`, `/x`}},
	} {
		got, err := splitInputList(tc.in, tc.sep)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitInputList(%q, %q) = %q, %v; want %q", tc.in, tc.sep, got, err, tc.want)
		}
	}
}
