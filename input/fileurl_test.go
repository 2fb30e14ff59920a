package input

import (
	"path/filepath"
	"testing"
)

func TestLocalPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"file:///data/logs", "/data/logs"},
		{"file:/data/logs/*.txt", "/data/logs/*.txt"},
		{"file://localhost/data/{a,b}", "/data/{a,b}"},
		{"file:///data/my%20file.txt", "/data/my%20file.txt"}, // not decoded
		{"file://otherhost/data", "file://otherhost/data"},
		{"file:data", "file:data"},
		{"s3://bucket/key", "s3://bucket/key"},
		{"/data/logs", "/data/logs"},
		{"logs/file:/x", "logs/file:/x"},
	} {
		want := c.want
		if want != c.in {
			want = filepath.FromSlash(want) // a path from a URL is the system's
		}
		if got := LocalPath(c.in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", c.in, got, want)
		}
	}
}
