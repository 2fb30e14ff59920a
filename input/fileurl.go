package input

import (
	"path/filepath"
	"slices"
	"strings"
)

// LocalPath returns the local path that a file: URL names, as Hadoop and
// Spark users write their paths (file:///data/logs, file:/data/logs,
// file://localhost/data/logs), and any other path or URL as it is. The
// rest of the URL is taken as written, not %-decoded, so that its glob
// characters, braces and commas keep their meaning for Expand. A file:
// URL that names another host is left alone: no driver reads it, and the
// error says so.
func LocalPath(path string) string {
	var p string
	switch {
	case strings.HasPrefix(path, "file:///"):
		p = path[len("file://"):]
	case strings.HasPrefix(path, "file://localhost/"):
		p = path[len("file://localhost"):]
	case strings.HasPrefix(path, "file:/") && !strings.HasPrefix(path, "file://"):
		p = path[len("file:"):]
	default:
		return path
	}
	// file:///C:/data on Windows: the drive follows the slash.
	if filepath.Separator == '\\' && len(p) >= 3 && p[2] == ':' {
		p = p[1:]
	}
	return filepath.FromSlash(p)
}

// LocalPaths is LocalPath of each path: paths itself when none is a local
// file: URL, a new slice otherwise.
func LocalPaths(paths []string) []string {
	if !slices.ContainsFunc(paths, func(p string) bool { return LocalPath(p) != p }) {
		return paths
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = LocalPath(p)
	}
	return out
}
