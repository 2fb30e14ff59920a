package driver

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiling. Config.CPUProfile and Config.MemProfile are path prefixes: the
// driver writes PREFIX.driver and every worker PREFIX.worker-PID, so that a
// slow stage can be found with `go tool pprof` in whichever process runs it.
// Workers learn the prefixes from the environment.
const (
	cpuProfileEnv = "QUERN_CPUPROFILE"
	memProfileEnv = "QUERN_MEMPROFILE"
)

// StartProfiles starts the profiles cfg asks for (CPUProfile, MemProfile) in
// this driver process, as PREFIX.driver, and returns the function that stops
// them; another driver (package pipeline) calls it as Run does.
func StartProfiles(cfg Config) (stop func(), err error) {
	return startProfiles(cfg.CPUProfile, cfg.MemProfile, "driver")
}

// ProfileEnv is the environment that asks worker processes (Main) for the
// profiles cfg asks for.
func ProfileEnv(cfg Config) []string {
	return []string{cpuProfileEnv + "=" + cfg.CPUProfile, memProfileEnv + "=" + cfg.MemProfile}
}

// startProfiles starts the CPU profile of this process, if asked, and
// returns a function that stops it and writes the heap profile.
func startProfiles(cpuPrefix, memPrefix, who string) (stop func(), err error) {
	var cpu *os.File
	if cpuPrefix != "" {
		if cpu, err = os.Create(cpuPrefix + "." + who); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPrefix != "" {
			if f, err := os.Create(memPrefix + "." + who); err == nil {
				runtime.GC()
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}, nil
}
