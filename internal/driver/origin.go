package driver

import "os"

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
