package input

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/quern-dev/quern/internal/testenv"
)

func TestSplitInputList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{"logs/{a,b}", []string{"logs/{a,b}"}},
		{"x,logs/{a,{b,c}}/*.gz,y", []string{"x", "logs/{a,{b,c}}/*.gz", "y"}},
		{`a\,b,c`, []string{`a\,b`, "c"}},
		{"a,,b,", []string{"a", "b"}},
	} {
		got, err := splitInputList(tc.in, '/') // Unix rules; Windows': TestBackslashBeforeBraces
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitInputList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a{b", "a}b,c", "{a,{b}"} {
		if _, err := splitInputList(bad, '/'); !errors.Is(err, ErrBraces) {
			t.Errorf("SplitInputList(%q) error %v, want ErrBraces", bad, err)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"plain", []string{"plain"}},
		{"{a,b}", []string{"a", "b"}},
		{"x{a,b}y", []string{"xay", "xby"}},
		{"{a,b{c,d}}e", []string{"ae", "bce", "bde"}},
		{"{a,b}{1,2}", []string{"a1", "a2", "b1", "b2"}},
		{"{a}", []string{"a"}},
		{`\{a,b\}`, []string{`\{a,b\}`}},
	} {
		got, err := expandBracesSep(tc.in, '/') // Unix rules; Windows': TestBackslashBeforeBraces
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("expandBraces(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := expandBraces(strings.Repeat("{a,b,c,d,e,f,g,h,i,j}", 5)); !errors.Is(err, ErrBraces) {
		t.Errorf("100,000 alternatives: error %v, want ErrBraces", err)
	}
}

// TestExpandShapes is the input paths users write: braces, **, nested
// folders, hidden folders, links.
func TestExpandShapes(t *testing.T) {
	dir := mkfiles(t,
		"logs/2024/01/a.gz", "logs/2024/02/b.txt", "logs/2025/01/c.gz", "logs/2025/x.gz", "logs/top.gz",
		"logs/.git/objects/o.gz", "logs/_temporary/0/part.gz", "logs/2024/_SUCCESS", "logs/2024/.crc",
		"other/d.txt", "other/e.csv", "empty/",
	)
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"nested folder read recursively", []string{j("logs")},
			[]string{"logs/2024/01/a.gz", "logs/2024/02/b.txt", "logs/2025/01/c.gz", "logs/2025/x.gz", "logs/top.gz"}},
		{"braces", []string{j("logs/{2024,2025}/01")}, []string{"logs/2024/01/a.gz", "logs/2025/01/c.gz"}},
		{"nested braces", []string{j("{logs/{2024/02,2025/01},other/d.txt}")},
			[]string{"logs/2024/02/b.txt", "logs/2025/01/c.gz", "other/d.txt"}},
		{"braces and a glob", []string{j("{logs/2025,other}/*.{gz,csv}")}, []string{"logs/2025/x.gz", "other/e.csv"}},
		{"double star", []string{j("logs/**/*.gz")},
			[]string{"logs/2024/01/a.gz", "logs/2025/01/c.gz", "logs/2025/x.gz", "logs/top.gz"}},
		{"double star in the middle", []string{j("**/01/*")}, []string{"logs/2024/01/a.gz", "logs/2025/01/c.gz"}},
		{"double star at the end", []string{j("logs/2025/**")}, []string{"logs/2025/01/c.gz", "logs/2025/x.gz"}},
		{"hidden matched on purpose", []string{j("logs/_temporary/*/*.gz")}, []string{"logs/_temporary/0/part.gz"}},
		{"glob over a folder with an empty one", []string{j("{empty,other}")}, []string{"other/d.txt", "other/e.csv"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantExpand(t, dir, tc.args, tc.want) })
	}
	for _, tc := range []struct {
		name string
		arg  string
		is   error
	}{
		{"missing literal alternative", j("logs/{2024,2026}"), os.ErrNotExist},
		{"braces matching nothing", j("{empty,other/*.parquet}"), ErrNoInput},
		{"double star matching nothing", j("**/*.parquet"), ErrNoInput},
		{"unbalanced braces", j("logs/{2024"), ErrBraces},
		{"bad pattern under double star", j("**/[a"), filepath.ErrBadPattern},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Expand([]string{tc.arg})
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.arg) {
				t.Fatalf("Expand(%q) = %v, %v; want an error wrapping %v that names the argument", tc.arg, files, err, tc.is)
			}
		})
	}
}

// TestGlobListsEachFileOnce: a glob lists each file it matches once,
// however deep the tree below a "**". A trailing "**" walked the tree
// again from every folder below it, so a file four folders down was
// listed, stat'ed and checked five times (and dropped as a duplicate four
// times, so the answer was right and the plan slow).
func TestGlobListsEachFileOnce(t *testing.T) {
	names := []string{"a/f1.txt", "a/b/f2.txt", "a/b/c/f3.txt", "a/b/c/d/f4.txt", "a/b/c/d/f5.log", "a/b2/f6.txt"}
	dir := mkfiles(t, names...)
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		arg  string
		want int
	}{
		{j("a/**"), 6},
		{j("a/**/*.txt"), 5},
		{j("**/d/*"), 2},
		{j("a/*/*/*/*"), 2},
		{j("a/{b,b2}/**"), 5},
	} {
		e := &expander{ctx: context.Background()}
		files, err := e.expand([]string{tc.arg})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != tc.want || e.files != tc.want {
			t.Errorf("%s: %d files, %d listed; want %d, each listed once", tc.arg, len(files), e.files, tc.want)
		}
	}
}

// TestGlobUnreadableFolder: a folder a glob must read and cannot is an
// error that names it, not a folder without matches: logs/*/*.txt with
// one month's folder unreadable read the other months and succeeded.
// A pattern that asks for the entries of a file or of a missing path
// still matches nothing.
func TestGlobUnreadableFolder(t *testing.T) {
	dir := mkfiles(t, "logs/01/a.txt", "logs/02/b.txt", "logs/03/c.txt")
	j := func(p string) string { return filepath.Join(dir, p) }
	locked := j("logs/02")
	open := openDir
	openDir = func(name string) (*os.File, error) {
		if name == locked {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return open(name)
	}
	t.Cleanup(func() { openDir = open })
	for _, arg := range []string{j("logs/*/*.txt"), j("logs/**/*.txt"), j("logs/0[2-3]/*"), j("logs/*/none*")} {
		files, err := Expand([]string{arg})
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), arg) || !strings.Contains(err.Error(), locked) {
			t.Errorf("Expand(%q) = %v, %v; want a permission error naming the argument and %s", arg, files, err, locked)
		}
	}
	wantExpand(t, dir, []string{j("logs/0[13]/*.txt")}, []string{"logs/01/a.txt", "logs/03/c.txt"})
	for _, arg := range []string{j("logs/01/a.txt/*"), j("logs/04/*"), j("logs/*/a.txt/x*")} {
		if files, err := Expand([]string{arg}); !errors.Is(err, ErrNoInput) {
			t.Errorf("Expand(%q) = %v, %v; want ErrNoInput (nothing to match)", arg, files, err)
		}
	}

	// A folder that may be listed and not searched, met by a literal
	// element of the pattern, after a wildcard or a "**".
	openDir = open
	stat := globLstat
	globLstat = func(name string) (fs.FileInfo, error) {
		if strings.HasPrefix(name, locked+string(filepath.Separator)) {
			return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrPermission}
		}
		return stat(name)
	}
	t.Cleanup(func() { globLstat = stat })
	for _, arg := range []string{j("logs/*/b.txt"), j("logs/**/c.txt")} {
		files, err := Expand([]string{arg})
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), arg) || !strings.Contains(err.Error(), locked) {
			t.Errorf("Expand(%q) = %v, %v; want a permission error naming the argument and %s", arg, files, err, locked)
		}
	}
}

// TestExpandEachFileOnce names one file in every way: relative and
// absolute, through a/../a, a symbolic link to it and to its folder, a
// hard link, and a folder that links back into itself.
func TestExpandEachFileOnce(t *testing.T) {
	dir := mkfiles(t, "data/f.txt", "data/g.txt", "data/sub/h.txt")
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, l := range [][2]string{
		{j("data/f.txt"), j("link.txt")},
		{j("data"), j("linkdir")},
		{j("data"), j("data/sub/loop")}, // a cycle: data/sub/loop/sub/loop/...
	} {
		testenv.Symlink(t, l[0], l[1])
	}
	if err := os.Link(j("data/g.txt"), j("hard.txt")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	files, err := Expand([]string{
		"data/f.txt", j("data/f.txt"), "data/../data/f.txt", "link.txt", "linkdir", "data", j("data/*.txt"),
		"hard.txt", "data/sub",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	// The first name of each file in sorted order stands for it: an
	// absolute path sorts before a relative one.
	want := []string{j("data/f.txt"), j("data/g.txt"), "data/sub/h.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("Expand = %q, want %q", got, want)
	}
}

// TestExpandHardLinkOnce: a file and a hard link to it are one input,
// read once, as Expand tells by the file's identity (the inode; on Windows
// the volume and file index), since their paths differ even with links
// resolved. Apart from TestExpandEachFileOnce because it needs no
// symbolic links, which Wine does not follow.
func TestExpandHardLinkOnce(t *testing.T) {
	dir := mkfiles(t, "data/g.txt")
	j := func(p string) string { return filepath.Join(dir, p) }
	if err := os.Link(j("data/g.txt"), j("hard.txt")); err != nil {
		t.Fatal(err)
	}
	files, err := Expand([]string{j("hard.txt"), j("data/g.txt"), j("data")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	if want := []string{j("data/g.txt")}; !slices.Equal(got, want) {
		t.Fatalf("Expand = %q, want %q", got, want)
	}
}

// TestExpandSniffsCompression writes each compression under a right name,
// a wrong name and no compression name, and text under compression names.
func TestExpandSniffsCompression(t *testing.T) {
	dir := t.TempDir()
	text := []byte("just some text\nover two lines\n")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		data []byte
		want Compression
	}{
		{"a.gz", compress(t, Gzip, text), Gzip},
		{"a.zst", compress(t, Zstd, text), Zstd},
		{"a.bz2", compress(t, Bzip2, foxText()), Bzip2},
		{"a.xz", compress(t, Xz, text), Xz},
		{"gzip-named.txt", compress(t, Gzip, text), Gzip},
		{"zstd-unnamed", compress(t, Zstd, text), Zstd},
		{"bzip2-named.gz", compress(t, Bzip2, foxText()), Bzip2},
		{"xz-named.zst", compress(t, Xz, text), Xz},
		{"text.gz", text, None},
		{"text.xz", text, None},
		{"text.lz4", text, None},
		{"empty.gz", nil, None},
		{"BZh-text", []byte("BZh9 is how a bzip2 file starts\n"), None},
	} {
		files, err := Expand([]string{write(tc.name, tc.data)})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if files[0].Compression != tc.want {
			t.Errorf("%s: compression %v, want %v", tc.name, files[0].Compression, tc.want)
		}
	}
	binary := bytes.Repeat([]byte{0x00, 0x9c, 0xff, 0x13}, 200)
	for _, tc := range []struct{ name, says string }{
		{"a.lz4", "lz4"},
		{"named.txt", "lz4"},
		{"old.Z", "compress (.Z)"},
		{"a.zip", "zip"},
		{"a.7z", "7z"},
		{"binary.gz", "gzip"},
		{"binary.br", "brotli"},
	} {
		var data []byte
		switch tc.says {
		case "lz4":
			data = append([]byte("\x04\x22\x4d\x18"), binary...)
		case "compress (.Z)":
			data = append([]byte("\x1f\x9d"), binary...)
		case "zip":
			data = append([]byte("PK\x03\x04"), binary...)
		case "7z":
			data = append([]byte("7z\xbc\xaf\x27\x1c"), binary...)
		default:
			data = binary
		}
		p := write(tc.name, data)
		files, err := Expand([]string{dir + "/" + tc.name})
		if !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: Expand = %v, %v; want an ErrCompression naming the file and %s", tc.name, files, err, tc.says)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExpandFirstErrorInOrder: Expand checks files on several goroutines,
// yet of several unreadable files it names the first in the walk's order
// (by name within a folder), however the goroutines ran, and stops its
// goroutines.
func TestExpandFirstErrorInOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	lz4 := append([]byte("\x04\x22\x4d\x18"), make([]byte, 64)...)
	for i := range 400 {
		data := []byte("plain words\n")
		if i >= 100 {
			data = lz4
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.txt", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first := filepath.Join(dir, "f0100.txt")
	for range 5 {
		_, err := Expand([]string{dir})
		if !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), first+" ") {
			t.Fatalf("Expand = %v; want the ErrCompression of %s, the first unreadable file", err, first)
		}
	}
}

// TestCheckerKeepsEarliestError: whatever order the checker's goroutines
// finish in, the error kept is that of the earliest file in the walk.
func TestCheckerKeepsEarliestError(t *testing.T) {
	dir := t.TempDir()
	lz4 := append([]byte("\x04\x22\x4d\x18"), make([]byte, 64)...)
	var checks []fileCheck
	for i := range 6 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.txt", i))
		if err := os.WriteFile(p, lz4, 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, fileCheck{seq: i, path: p, arg: dir, fi: fi})
	}
	var k checker
	for _, i := range []int{5, 3, 4} { // the order the goroutines ended in
		k.record(checks[i])
	}
	if err := k.wait(); !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), checks[3].path+" ") {
		t.Fatalf("checker error = %v; want that of %s", err, checks[3].path)
	}
}

// TestGuessedCompression: ExpandWith leaves small line-format files
// unopened, their compression guessed from the name, and the reader
// decides it by the content as Expand would have: gzip under a .txt name
// is decompressed, text under a .gz name is read as text, and a binary
// .gz or an lz4 file under a .txt name is refused with ErrCompression
// naming it. A file over GuessUpTo, or a Parquet file, is sniffed by
// Expand as before.
func TestGuessedCompression(t *testing.T) {
	dir := t.TempDir()
	text := []byte("one two\nthree\n")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gz := compress(t, Gzip, text)
	binary := bytes.Repeat([]byte{0, 0xff, 0x13}, 100)
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"gzip.txt", gz, true},
		{"text.gz", text, true},
		{"plain.txt", text, true},
		{"binary.gz", binary, false},
		{"lz4.txt", append([]byte("\x04\x22\x4d\x18"), binary...), false},
	} {
		p := write(tc.name, tc.data)
		files, err := ExpandWith([]string{p}, ExpandOptions{GuessUpTo: 1 << 10})
		if !tc.ok && !guessesSmallFiles {
			// Sniffed by Expand, the file is refused at plan time.
			if !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: ExpandWith = %v; want an ErrCompression naming the file", tc.name, err)
			}
			continue
		}
		if err != nil || len(files) != 1 || files[0].Guessed != guessesSmallFiles {
			t.Fatalf("%s: ExpandWith = %+v, %v; want one file, Guessed %v", tc.name, files, err, guessesSmallFiles)
		}
		s := Split{File: files[0], End: files[0].Size}
		lr, err := Open(s)
		if !tc.ok {
			if !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: Open = %v; want an ErrCompression naming the file", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Open: %v", tc.name, err)
		}
		var got []string
		for line, _, ok := lr.Next(); ok; line, _, ok = lr.Next() {
			got = append(got, string(line))
		}
		if err := errors.Join(lr.Err(), lr.Close()); err != nil || !slices.Equal(got, []string{"one two", "three"}) {
			t.Errorf("%s: read %q, %v; want the text's two lines", tc.name, got, err)
		}
	}
	// A guessed file larger than the first read's buffer reads on from it.
	long := bytes.Repeat(text, defaultBufSize/len(text)+100)
	files, err := ExpandWith([]string{write("long.txt", long)}, ExpandOptions{GuessUpTo: 1 << 20})
	if err != nil || len(files) != 1 || files[0].Guessed != guessesSmallFiles {
		t.Fatalf("long.txt: ExpandWith = %+v, %v; want one file, Guessed %v", files, err, guessesSmallFiles)
	}
	lr, err := Open(Split{File: files[0], End: files[0].Size})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, _, ok := lr.Next(); ok; _, _, ok = lr.Next() {
		n++
	}
	if err := errors.Join(lr.Err(), lr.Close()); err != nil || n != bytes.Count(long, []byte{'\n'}) || lr.BytesRead() != int64(len(long)) {
		t.Errorf("long.txt: %d lines, %d bytes, %v; want %d lines, %d bytes", n, lr.BytesRead(), err, bytes.Count(long, []byte{'\n'}), len(long))
	}
	big := write("big.txt", bytes.Repeat(text, 200))
	pq := write("small.parquet", []byte("PAR1 not really"))
	files, err = ExpandWith([]string{big, pq}, ExpandOptions{GuessUpTo: 1 << 10})
	if err != nil || len(files) != 2 || files[0].Guessed || files[1].Guessed {
		t.Errorf("ExpandWith = %+v, %v; want a big text file and a Parquet file sniffed", files, err)
	}
}

// TestExpandLiteralName checks that an argument naming an existing file or
// folder as written is read as that path, though its name holds commas,
// braces or glob characters; without such a file the same text is still
// a list, alternatives or a glob.
func TestExpandLiteralName(t *testing.T) {
	dir := mkfiles(t, "grimm, vol 1.txt", "[meta].txt", "m.txt", "{a,b}.txt", "a.txt", "b.txt", "my books, old/x.txt")
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{j("grimm, vol 1.txt"), []string{"grimm, vol 1.txt"}},
		{j("[meta].txt"), []string{"[meta].txt"}},
		{j("[em].txt"), []string{"m.txt"}}, // no such file: a glob
		{j("{a,b}.txt"), []string{"{a,b}.txt"}},
		{j("{a,m}.txt"), []string{"a.txt", "m.txt"}}, // no such file: alternatives
		{j("my books, old"), []string{"my books, old/x.txt"}},
	} {
		list, err := SplitInputList(tc.arg)
		if err != nil {
			t.Fatalf("SplitInputList(%q): %v", tc.arg, err)
		}
		files, err := Expand(list)
		if err != nil {
			t.Fatalf("Expand(%q): %v", list, err)
		}
		if got := rel(t, dir, files); !slices.Equal(got, tc.want) {
			t.Errorf("%q reads %q, want %q", tc.arg, got, tc.want)
		}
	}
	// Without such a file, a comma still separates two paths.
	if list, err := SplitInputList(j("a.txt") + "," + j("b.txt")); err != nil || len(list) != 2 {
		t.Errorf("SplitInputList of two files = %q, %v; want two paths", list, err)
	}
}
