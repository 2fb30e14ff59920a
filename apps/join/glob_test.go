package join

import (
	"strings"
	"testing"
)

// TestSideGlobSeparators checks both readings of a backslash in --left and
// --right on every platform: a separator where the separator is one
// (Windows), an escape elsewhere. Input paths are matched as the job was
// given them, in the platform's own form.
func TestSideGlobSeparators(t *testing.T) {
	for _, tc := range []struct {
		glob, file string
		sep        rune
		want       bool
	}{
		{`C:\data\users*.csv`, `C:\data\users.csv`, '\\', true},
		{`C:\data\users*.csv`, `C:\other\users.csv`, '\\', false},
		{`data\*.csv`, `data\users.csv`, '\\', true},
		{`users*.csv`, `C:\data\users.csv`, '\\', true}, // base name
		{`\\server\share\in\*.csv`, `\\server\share\in\a.csv`, '\\', true},
		{`data/*.csv`, `data\users.csv`, '\\', true}, // a slash separates too
		{`users\*.csv`, `users*.csv`, '/', true},     // an escaped star
		{`users\*.csv`, `usersX.csv`, '/', false},
		{`data/*.csv`, `data/users.csv`, '/', true},
		{`*.csv`, `dir/users.csv`, '/', true},
	} {
		g, err := newSideGlob(tc.glob, tc.sep)
		if err != nil {
			t.Fatalf("newSideGlob(%q, %q): %v", tc.glob, tc.sep, err)
		}
		file := tc.file
		if tc.sep == '\\' {
			file = strings.ReplaceAll(file, `\`, "/") // what match's ToSlash does on Windows
		}
		if got := g.match(file); got != tc.want {
			t.Errorf("glob %q (separator %q) matches %q: %v, want %v", tc.glob, tc.sep, tc.file, got, tc.want)
		}
	}
}
