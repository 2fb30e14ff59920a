package mapreduce

import (
	"fmt"

	"github.com/quern-dev/quern/input"
)

// JobPlan is what a job would do, without doing it: `quern run --dry-run`.
type JobPlan struct {
	Job        string
	Config     Config
	Files      []input.File
	InputBytes int64
	Splits     []input.Split
	// MemoryPerWorker estimates a worker's peak memory: the sort buffer,
	// plus about 64 MiB for the runtime, read buffers and the merge.
	MemoryPerWorker int64
}

// Plan validates a configuration for the named job and lists its inputs
// and splits, touching nothing.
func Plan(name string, cfg Config) (*JobPlan, error) {
	job, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("mapreduce: no job named %q", name)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	files, err := input.Expand(cfg.Inputs)
	if err != nil {
		// A missing, empty or unreadable input is the caller's to fix.
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.InputFormat != "" {
		f, _ := input.ParseFormat(cfg.InputFormat)
		input.SetFormat(files, f)
	}
	splits, err := input.Plan(files, cfg.SplitSize)
	if err != nil {
		return nil, err
	}
	p := &JobPlan{Job: job.info().Name, Config: cfg, Files: files, Splits: splits,
		MemoryPerWorker: cfg.SortBuffer + 64<<20}
	for _, f := range files {
		p.InputBytes += f.Size
	}
	return p, nil
}
