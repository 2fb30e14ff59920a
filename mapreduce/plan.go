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
	// MemoryPerWorker estimates a worker's peak RSS: its memory limit (the
	// sort buffer or the merge's blocks, whichever is larger, plus slack)
	// and about 56 MiB the limit does not cover, the binary's own pages
	// among them. A 1 GiB sort with a 64 MiB buffer measured 120-122 MiB.
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
	files, splits, err := planInputs(cfg)
	if err != nil {
		return nil, err
	}
	p := &JobPlan{Job: job.info().Name, Config: cfg, Files: files, Splits: splits,
		MemoryPerWorker: workerMemory(cfg) + 56<<20}
	for _, f := range files {
		p.InputBytes += f.Size
	}
	return p, nil
}

// planInputs expands the inputs, applies Config.InputFormat and cuts the
// splits. A missing, empty or unreadable input is the caller's to fix, so
// its error wraps ErrConfig.
func planInputs(cfg Config) ([]input.File, []input.Split, error) {
	files, err := input.Expand(cfg.Inputs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.InputFormat != "" {
		f, _ := input.ParseFormat(cfg.InputFormat) // checked by Validate
		input.SetFormat(files, f)
	}
	splits, err := input.Plan(files, cfg.SplitSize)
	if err != nil {
		return nil, nil, err
	}
	return files, splits, nil
}
