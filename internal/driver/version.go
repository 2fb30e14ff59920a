package driver

import (
	"runtime/debug"
	"sync"
)

// Version returns the version of the Quern build running: the module
// version when built from a tagged module ("v1.2.3"), else "devel", followed
// by the VCS revision (12 hex digits, "+dirty" when the tree had
// uncommitted changes) when the build recorded one, and the Go version.
// `quern --version` prints it and _job.json records it.
var Version = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v + " " + info.GoVersion
})
