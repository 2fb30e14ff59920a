package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a suite run. It is written as results.json, and
// rendered as a text table, Markdown and an SVG chart.
type Report struct {
	Command string
	Machine Machine
	// QuernBuild says whether the quern binary measured was built with
	// cgo, which the README's build turns off (see cgoBuild).
	QuernBuild string `json:",omitempty"`
	// Size is the requested input size per workload; rows carry the
	// actual bytes.
	Size    int64
	Runs    int
	Workers int
	Seed    uint64
	Started time.Time
	Elapsed string
	// Rows has one row per workload and system: Quern first, then its
	// baselines.
	Rows []Row
	// Scaling and Sweep hold Quern-only rows for --scaling and --sweep.
	Scaling []Row `json:",omitempty"`
	Sweep   []Row `json:",omitempty"`
}

// Row is one system on one workload.
type Row struct {
	Workload string
	System   string
	// Config names the variant in scaling and sweep rows.
	Config     string `json:",omitempty"`
	Kind       string
	InputBytes int64
	// Walls are the wall times of the runs that succeeded, in seconds.
	Walls     []float64
	MedianSec float64
	MBps      float64
	// QuernSpeedup is this system's median time over Quern's: above 1,
	// Quern is faster. Zero on Quern's own row.
	QuernSpeedup float64 `json:",omitempty"`
	// PairSpeedups are the same ratio run by run: this system's run i
	// over Quern's run i, which ran just before it (systems alternate).
	// On a machine whose speed drifts between runs, their range tells a
	// real difference from noise better than the medians' ratio does.
	// Empty unless every run of both succeeded.
	PairSpeedups []float64 `json:",omitempty"`
	// DriverRSS is the peak RSS of the process tree (for Quern, of its
	// driver); WorkerRSS is Quern's largest worker. Bytes, maximum over runs.
	DriverRSS  int64
	WorkerRSS  int64 `json:",omitempty"`
	SpillBytes int64 `json:",omitempty"`
	// CPUSec is the median processor time (user and system) of the whole
	// process tree, in seconds (0 without GNU time). OwnCPUShare, for a
	// Streaming job, is the share of it that was Quern's own: the rest is
	// the user's programs (the streaming_program_cpu_ms counter).
	CPUSec      float64   `json:",omitempty"`
	CPUs        []float64 `json:",omitempty"`
	OwnCPUShare float64   `json:",omitempty"`
	// MemoryLimit is the memory a baseline was given (sort -S, DuckDB's
	// memory_limit): what Quern's driver and workers used on the same
	// input just before. Bytes; 0 for systems without a limit.
	MemoryLimit int64 `json:",omitempty"`
	// Answer summarises the system's normalised answer.
	Answer string `json:",omitempty"`
	// Status is "ok", "skipped: …", "unavailable: …", "error: …" or
	// "MISMATCH: …".
	Status string
}

// Failed reports whether a system failed or disagreed with Quern. Skipped
// workloads and unavailable baselines are not failures.
func (r *Report) Failed() bool {
	for _, rows := range [][]Row{r.Rows, r.Scaling, r.Sweep} {
		for _, row := range rows {
			if row.failed() {
				return true
			}
		}
	}
	return false
}

func (r Row) failed() bool {
	return strings.HasPrefix(r.Status, "error") || strings.HasPrefix(r.Status, "MISMATCH")
}

// Machine describes where the suite ran.
type Machine struct {
	CPUs      int
	CPU       string
	MemoryGiB float64
	OS        string
	Kernel    string
	Go        string
	Tools     map[string]string `json:",omitempty"`
}

func describeMachine(ctx context.Context) Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		Tools: map[string]string{}}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = float64(kb) / (1 << 20)
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		m.Go = strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
	}
	for _, tool := range []string{"sort", "grep", "tr"} {
		if out, err := exec.CommandContext(ctx, tool, "--version").Output(); err == nil {
			first, _, _ := strings.Cut(string(out), "\n")
			m.Tools[tool] = first
		}
	}
	return m
}

// writeFiles writes results.json, results.md and throughput.svg into dir.
func (r *Report) writeFiles(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	var md, svg bytes.Buffer
	r.WriteMarkdown(&md)
	r.WriteSVG(&svg)
	for name, data := range map[string][]byte{
		"results.json": append(js, '\n'), "results.md": md.Bytes(), "throughput.svg": svg.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// columns renders a row as table cells, shared by the text and Markdown
// tables.
func (row Row) columns() []string {
	cells := []string{row.Workload, row.System}
	if row.Config != "" {
		cells[1] += " " + row.Config
	}
	if row.MedianSec == 0 {
		return append(cells, "-", "-", "-", "-", "-", "-", "-", "-", "-", row.Status)
	}
	speedup := "-"
	if row.QuernSpeedup > 0 {
		speedup = fmt.Sprintf("%.2f×", row.QuernSpeedup) + spread(row.PairSpeedups, "%.2f")
	}
	return append(cells,
		fmt.Sprintf("%.2f", row.MedianSec)+spread(row.Walls, "%.2f"),
		fmt.Sprintf("%.1f", row.MBps),
		speedup,
		mibOrDash(row.DriverRSS),
		mibOrDash(row.WorkerRSS),
		mibOrDash(row.SpillBytes),
		mibOrDash(row.MemoryLimit),
		orDash(row.CPUSec, "%.1f"),
		orDash(100*row.OwnCPUShare, "%.0f%%"),
		row.Status,
	)
}

// spread renders the range of xs, " (min–max)", for a cell that shows
// their median; nothing for fewer than two.
func spread(xs []float64, format string) string {
	if len(xs) < 2 {
		return ""
	}
	return fmt.Sprintf(" ("+format+"–"+format+")", slices.Min(xs), slices.Max(xs))
}

func orDash(x float64, format string) string {
	if x <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, x)
}

var header = []string{"workload", "system", "median s", "MB/s", "quern speedup", "peak RSS MiB", "worker RSS MiB", "spill MiB", "memory given MiB", "CPU s", "Quern's own CPU", "status"}

func mibOrDash(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(n)/(1<<20))
}

// WriteText prints the tables for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "input %s per workload, %d runs, %d workers, seed %d; %d CPUs, %.1f GiB, %s\n\n",
		formatBytes(r.Size), r.Runs, r.Workers, r.Seed, r.Machine.CPUs, r.Machine.MemoryGiB, r.Machine.Go)
	for _, t := range r.tables() {
		if t.title != "" {
			fmt.Fprintf(w, "\n%s\n", t.title)
		}
		tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(tw, strings.Join(row.columns(), "\t"))
		}
		tw.Flush()
	}
	for _, row := range append(append(append([]Row(nil), r.Rows...), r.Scaling...), r.Sweep...) {
		if row.failed() {
			fmt.Fprintf(w, "\nFAILED: %s/%s: %s\n", row.Workload, row.System, row.Status)
		}
	}
}

type table struct {
	title string
	rows  []Row
}

func (r *Report) tables() []table {
	t := []table{{"", r.Rows}}
	if len(r.Scaling) > 0 {
		t = append(t, table{"Scaling (Quern, by workers; speedup is relative to the first row)", r.Scaling})
	}
	if len(r.Sweep) > 0 {
		t = append(t, table{"Sort buffer and spill compression sweep (Quern; speedup is relative to the first row)", r.Sweep})
	}
	return t
}

// WriteMarkdown writes the tables and the conditions they were measured in.
func (r *Report) WriteMarkdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Measured %s on %d CPUs (%s), %.1f GiB memory, %s, Linux %s.\n\n",
		r.Started.Format("2006-01-02"), m.CPUs, m.CPU, m.MemoryGiB, m.Go, m.Kernel)
	if r.Command != "" {
		fmt.Fprintf(w, "```sh\n%s\n```\n\n", r.Command)
	}
	if r.QuernBuild != "" {
		fmt.Fprintf(w, "The quern binary was %s; the Go baselines were built without cgo.\n\n", r.QuernBuild)
	}
	fmt.Fprintf(w, "Input %s per workload (seed %d), %d runs per system, alternating; median wall time of the whole process, "+
		"MB/s = input bytes / median; quern speedup = system's median / Quern's; in parentheses, the range over the runs "+
		"(for the speedup, of each run's time over Quern's run just before it; in the scaling and sweep tables, "+
		"of the first row's run over the same run of the row); peak RSS of the process tree "+
		"(Quern: its driver) and of Quern's largest worker; CPU s = median user+system time of the process tree; "+
		"Quern's own CPU (Streaming workloads) = the share of it not spent in the user's programs. The suite took %s.\n",
		formatBytes(r.Size), r.Seed, r.Runs, r.Elapsed)
	for _, t := range r.tables() {
		if t.title != "" {
			fmt.Fprintf(w, "\n### %s\n", t.title)
		}
		fmt.Fprintf(w, "\n| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
		for _, row := range t.rows {
			cells := row.columns()
			for i, c := range cells {
				cells[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	if len(m.Tools) > 0 {
		fmt.Fprintf(w, "\nTools: ")
		sep := ""
		for _, k := range []string{"sort", "grep", "tr"} {
			if v, ok := m.Tools[k]; ok {
				fmt.Fprintf(w, "%s%s", sep, v)
				sep = "; "
			}
		}
		fmt.Fprintln(w)
	}
}

// WriteSVG draws throughput by workload and system as horizontal bars,
// one group per workload, Quern's bar first in each group.
func (r *Report) WriteSVG(w io.Writer) {
	const (
		left, barH, gap, groupGap, width, top = 230, 18, 4, 16, 760, 40
	)
	var rows []Row
	maxMBps := 0.0
	for _, row := range r.Rows {
		if row.MBps > 0 {
			rows = append(rows, row)
			maxMBps = max(maxMBps, row.MBps)
		}
	}
	if maxMBps == 0 {
		maxMBps = 1
	}
	groups := 0
	for i, row := range rows {
		if i == 0 || rows[i-1].Workload != row.Workload {
			groups++
		}
	}
	height := top + len(rows)*(barH+gap) + groups*groupGap + 20
	scale := float64(width-left-90) / maxMBps
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(w, `<text x="10" y="20" font-size="14" font-weight="bold">Throughput, MB/s (input %s, median of %d runs, %d CPUs)</text>`+"\n",
		formatBytes(r.Size), r.Runs, r.Machine.CPUs)
	y := top
	for i, row := range rows {
		if i == 0 || rows[i-1].Workload != row.Workload {
			if i > 0 {
				y += groupGap
			}
			fmt.Fprintf(w, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+barH-4, html.EscapeString(row.Workload))
		}
		fill := "#8aa4c8"
		if row.System == "quern" {
			fill = "#d9822b"
		}
		if row.failed() {
			fill = "#c0392b"
		}
		bw := max(1, int(row.MBps*scale))
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+barH-4, html.EscapeString(row.System))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, bw, barH, fill)
		fmt.Fprintf(w, `<text x="%d" y="%d">%.1f</text>`+"\n", left+bw+4, y+barH-4, row.MBps)
		y += barH + gap
	}
	fmt.Fprintln(w, "</svg>")
}

// formatBytes prints n the way --size is written: 64MiB, 1GiB, or bytes.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}
