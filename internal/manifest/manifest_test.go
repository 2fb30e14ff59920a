package manifest

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
)

// TestEncodeParse: a manifest lists its entries in name order and parses
// back to them; an empty one lists nothing.
func TestEncodeParse(t *testing.T) {
	entries := []Entry{{"part-00001", 998}, {"merged.txt", 0}, {"part-00000", 1234}}
	data := Encode(entries)
	if want := "merged.txt 0\npart-00000 1234\npart-00001 998\n"; string(data) != want {
		t.Fatalf("Encode = %q, want %q", data, want)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Entry{{"merged.txt", 0}, {"part-00000", 1234}, {"part-00001", 998}}; !slices.Equal(got, want) {
		t.Errorf("Parse = %v, want %v", got, want)
	}
	if got, err := Parse(nil); err != nil || len(got) != 0 {
		t.Errorf("Parse(empty) = %v, %v; want nothing", got, err)
	}
}

// TestParseRefusesOtherContent: what other tools write into _SUCCESS, and
// names that would reach outside the output, are not a manifest.
func TestParseRefusesOtherContent(t *testing.T) {
	for _, data := range []string{
		`{"committer": "magic", "filenames": ["part-00000"]}`,
		"part-00000\n",
		"part-00000 12 extra\n",
		"part-00000 -1\n",
		"part-00000 1.5\n",
		"../part-00000 1\n",
		"/etc/passwd 1\n",
		"a/../b 1\n",
		" 1\n",
		"part-00000 1\n\n",
	} {
		if got, err := Parse([]byte(data)); !errors.Is(err, ErrNotManifest) {
			t.Errorf("Parse(%q) = %v, %v; want ErrNotManifest", data, got, err)
		}
	}
}

// TestCheck: a file missing or of another size is named with the output;
// a file the manifest does not list is not looked at.
func TestCheck(t *testing.T) {
	files := map[string]int64{"part-00000": 5, "part-00001": 3, "added": 9}
	size := func(name string) (int64, error) {
		n, ok := files[name]
		if !ok {
			return 0, fs.ErrNotExist
		}
		return n, nil
	}
	for _, tc := range []struct {
		entries []Entry
		want    string
	}{
		{[]Entry{{"part-00000", 5}, {"part-00001", 3}}, ""},
		{[]Entry{{"part-00000", 5}, {"part-00001", 4}}, "out: " + ErrDamaged.Error() + ": part-00001 has 3 bytes, its _SUCCESS says 4"},
		{[]Entry{{"part-00002", 1}}, "out: " + ErrDamaged.Error() + ": part-00002 is missing"},
	} {
		err := Check("out", tc.entries, size)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%v): %v", tc.entries, err)
		case tc.want != "" && (!errors.Is(err, ErrDamaged) || err.Error() != tc.want):
			t.Errorf("Check(%v) = %v, want %q", tc.entries, err, tc.want)
		}
	}
	broken := errors.New("permission denied")
	err := Check("out", []Entry{{"part-00000", 5}}, func(string) (int64, error) { return 0, broken })
	if !errors.Is(err, broken) || errors.Is(err, ErrDamaged) {
		t.Errorf("Check with a failing stat = %v, want that error, not ErrDamaged", err)
	}
}
