package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/quern-dev/quern/mapreduce"
)

// PrintPlan writes what the pipeline would do with cfg, running nothing
// (`quern run PIPELINE --dry-run`): each stage, its tasks and rounds, how
// it reads its inputs (through a shuffle, or co-partitioned without one),
// and the maps fused into it.
func (p *Pipeline) PrintPlan(w io.Writer, cfg mapreduce.Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	params, err := p.params(cfg.Params)
	if err != nil {
		return err
	}
	rounds, err := p.rounds(params)
	if err != nil {
		return err
	}
	var warnings []string
	if note := cfg.MemoryNote(); note != "" {
		warnings = append(warnings, note)
	}
	_, tasks, spooled, err := p.planInput(context.Background(), cfg, func(w string) { warnings = append(warnings, w) })
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "pipeline %s, engine %s, %d workers, %d reducers\n", p.Name, cfg.Engine, cfg.Workers, cfg.Reducers)
	var looping *loop
	for _, s := range p.stages {
		if s.loop != looping {
			looping = s.loop
			if looping != nil {
				fmt.Fprintf(w, "loop %s: %d rounds", looping.name, rounds[looping])
				if looping.spec.Until != nil {
					fmt.Fprint(w, " at most (ends early when its convergence test holds)")
				}
				fmt.Fprintf(w, "; round 1 reads %s, each later round what %s made\n", looping.init.name, looping.next.name)
			}
		}
		indent := ""
		if s.loop != nil {
			indent = "  "
		}
		switch s.kind {
		case readStage:
			fmt.Fprintf(w, "%sstage %s: map over the input, %d tasks", indent, s.name, len(tasks[s]))
			if n := spooled[s]; n > 0 {
				fmt.Fprintf(w, ", %d of them compressed files decompressed into chunks as the pipeline runs, each chunk a task", n)
			}
			fmt.Fprintln(w)
		case stateKind:
			n, err := s.state.rounds(params)
			if err != nil {
				return fmt.Errorf("%w: pipeline %s, stage %s: %v", mapreduce.ErrConfig, p.Name, s.name, err)
			}
			fmt.Fprintf(w, "stage %s: state per partition, %d tasks × %d steps (build, %d rounds, finish); reads %s once, no sort\n",
				s.name, cfg.Reducers, n+2, n, s.inputs[0].name)
		default:
			var reads []string
			for _, in := range s.inputs {
				reads = append(reads, readMode(in))
			}
			fmt.Fprintf(w, "%sstage %s: group by key, %d tasks; reads %s\n", indent, s.name, cfg.Reducers, strings.Join(reads, "; "))
		}
		for _, c := range p.colls {
			if c.producer != s {
				continue
			}
			var what []string
			if c.feed != nil {
				what = append(what, "map fused into "+s.name)
			}
			switch {
			case c.sameKey && s.kind == groupStage:
				what = append(what, "written sorted by key, partitioned as read (no shuffle)")
			case c.unsorted():
				what = append(what, "written unsorted, one exchange file per partition (no sort)")
			case c.stored():
				what = append(what, "written partitioned by key for a shuffle")
			}
			if c.output {
				what = append(what, fmt.Sprintf("the output: %d part files in %s", cfg.Reducers, cfg.Output))
			}
			fmt.Fprintf(w, "%s  makes %s (%s, %s): %s\n", indent, c.name, c.keyType, c.valueType, strings.Join(what, "; "))
		}
	}
	for _, warning := range warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	return nil
}
