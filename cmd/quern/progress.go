package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v3"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/quern-dev/quern/mapreduce"
)

// showProgress makes the job report its progress: live bars when stderr is
// a terminal, a log line every few seconds when it is not, nothing with
// --quiet. It returns a function that ends the display.
func showProgress(cmd *cli.Command, cfg *mapreduce.Config) (stop func()) {
	if cmd.Bool("quiet") {
		return func() {}
	}
	w := cmd.Root().ErrWriter
	if w == nil {
		w = os.Stderr
	}
	// A terminal that reports no width (some ptys) gets log lines: the
	// bars would draw nothing there.
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return progressBars(f, cfg)
		}
	}
	return progressLog(cfg, logInterval)
}

// logInterval is how often the log reports progress off a terminal.
var logInterval = 5 * time.Second

// progressBars draws one bar per phase: bytes read of all for a phase that
// reads the input (a job's map phase, a pipeline's read stage), tasks done
// for the others, and the time left at that rate.
func progressBars(w io.Writer, cfg *mapreduce.Config) func() {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	var mu sync.Mutex
	bars := map[string]*mpb.Bar{}
	last := map[string]int64{}
	updated := map[string]time.Time{} // each phase's previous report: EWMA rates want the time per increment
	cfg.OnProgress = func(pr mapreduce.Progress) {
		mu.Lock()
		defer mu.Unlock()
		bar, ok := bars[pr.Phase]
		if !ok {
			total, unit := int64(pr.Total), "tasks"
			counter := decor.CountersNoUnit("%d/%d tasks")
			if pr.TotalBytes > 0 {
				total, unit = pr.TotalBytes, "bytes"
				counter = decor.Counters(decor.SizeB1024(0), "% .1f / % .1f")
			}
			bar = p.AddBar(total,
				mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-7s", pr.Phase)), counter),
				mpb.AppendDecorators(
					decor.Percentage(decor.WCSyncSpace),
					decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), " done"),
				),
			)
			if unit == "bytes" {
				bar.SetTotal(total, false)
			}
			bars[pr.Phase] = bar
			updated[pr.Phase] = time.Now()
		}
		cur := int64(pr.Done)
		if pr.TotalBytes > 0 {
			cur = pr.Bytes
		}
		now := time.Now()
		bar.EwmaIncrInt64(cur-last[pr.Phase], now.Sub(updated[pr.Phase]))
		updated[pr.Phase] = now
		last[pr.Phase] = cur
		if pr.Done == pr.Total {
			bar.SetTotal(-1, true)
		}
	}
	return func() {
		mu.Lock()
		for _, b := range bars {
			if !b.Completed() {
				b.Abort(false)
			}
		}
		mu.Unlock()
		p.Wait()
	}
}

// progressLog logs the latest progress every interval.
func progressLog(cfg *mapreduce.Config, interval time.Duration) func() {
	var mu sync.Mutex
	var latest mapreduce.Progress
	began := time.Now()
	cfg.OnProgress = func(pr mapreduce.Progress) {
		mu.Lock()
		latest = pr
		mu.Unlock()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mu.Lock()
				pr := latest
				mu.Unlock()
				if pr.Phase == "" {
					continue
				}
				attrs := []any{"phase", pr.Phase, "tasks_done", pr.Done, "tasks", pr.Total, "elapsed", time.Since(began).Round(time.Second)}
				if pr.TotalBytes > 0 {
					attrs = append(attrs, "bytes_done", pr.Bytes, "bytes", pr.TotalBytes)
				}
				// Progress is information, not a warning, but it is
				// wanted without --verbose too: hand the record to the
				// handler past its level check, at INFO.
				rec := slog.NewRecord(time.Now(), slog.LevelInfo, "progress", 0)
				rec.Add(attrs...)
				logger.Handler().Handle(context.Background(), rec)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
