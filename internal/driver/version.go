package driver

import (
	"os"
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

// Origin says where and by what a job was run, for whoever finds its
// report (_job.json) later, in its output directory or in the job
// history: the Quern build, the driver's command line and host, and the
// working directory against which the command line's relative paths were
// named. A job's status carries it, and every engine's report holds it.
type Origin struct {
	Version     string   `json:"version,omitempty"`
	CommandLine []string `json:"command_line,omitempty"`
	Host        string   `json:"host,omitempty"`
	WorkingDir  string   `json:"working_dir,omitempty"`
}

// ThisProcess is the origin of a job that this process starts now.
func ThisProcess() Origin {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	return Origin{Version: Version(), CommandLine: os.Args, Host: host, WorkingDir: wd}
}

// Put adds o to a report being built.
func (o Origin) Put(report map[string]any) {
	report["version"], report["command_line"], report["host"], report["working_dir"] = o.Version, o.CommandLine, o.Host, o.WorkingDir
}
