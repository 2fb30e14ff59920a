package input

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func tarOf(t *testing.T, f tar.Format, name, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	if err := w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(text)), Format: f}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestIsTar: the headers Go's archive/tar writes in each format are tar;
// text, a header cut short, and a header whose bytes do not add up to its
// checksum (so text with "ustar" at byte 257) are not.
func TestIsTar(t *testing.T) {
	for _, f := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		b := tarOf(t, f, "logs/a.log", "hello\n")
		if !isTar(b) {
			t.Errorf("%v: not taken for a tar archive", f)
		}
		if isTar(b[:tarBlock-1]) {
			t.Errorf("%v: %d bytes taken for a tar header", f, tarBlock-1)
		}
		damaged := bytes.Clone(b)
		damaged[0]++ // the name changes, its checksum does not
		if isTar(damaged) {
			t.Errorf("%v: a header that does not add up taken for a tar archive", f)
		}
	}
	text := []byte(strings.Repeat("x", 257) + "ustar\x0000" + strings.Repeat("y", 300))
	if isTar(text) {
		t.Error(`text with "ustar" at byte 257 taken for a tar archive`)
	}
	if isTar([]byte(strings.Repeat("the quick brown fox\n", 50))) {
		t.Error("text taken for a tar archive")
	}
}

// TestTarRefused: a plain tar archive is refused by its first bytes,
// whatever its name, and the decompressed bytes of a compressed one are
// refused at their first read, naming the file.
func TestTarRefused(t *testing.T) {
	archive := tarOf(t, tar.FormatUSTAR, "a.log", "hello\n")
	for _, name := range []string{"logs.tar", "logs.txt", "logs"} {
		_, err := decideCompression(name, archive[:headSize])
		if !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), name+" is a tar archive;") {
			t.Errorf("%s: got %v, want a tar archive refused", name, err)
		}
	}
	_, err := io.ReadAll(&sniffReader{r: bytes.NewReader(archive)})
	if !errors.Is(err, errTarArchive) {
		t.Fatalf("decompressed tar: got %v, want errTarArchive", err)
	}
	s := Split{File: File{Path: "logs.tgz", Compression: Gzip}}
	err = decodeFailed(s, 0, err, &countingReader{}, nil)
	if !errors.Is(err, ErrCompression) || !strings.Contains(err.Error(), "logs.tgz is a tar archive (compressed with gzip)") {
		t.Errorf("got %v, want the file named", err)
	}
}
