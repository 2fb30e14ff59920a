//go:build unix

package streaming

import (
	"bytes"
	"context"
	"io"
	osexec "os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/quern-dev/quern/bench/gen"
)

// BenchmarkFeed measures what piping text through a program costs the
// worker: the processor time of this process (the task's goroutine, the
// feeder and the reader), per MB of input, besides the program's own. The
// programs read slower than the worker writes, as a real mapper does, so
// the pipe to them is full most of the time:
//
//	go test ./streaming -run '^$' -bench Feed -benchtime 4x
//
// quern-cpu-ms/MB is the figure a change to the pipes should lower.
func BenchmarkFeed(b *testing.B) {
	mapper := filepath.Join(examples, "wordcount", "mapper.py")
	for _, bc := range []struct{ name, interp, cmd string }{
		{"python-wordcount", "python3", "python3 " + mapper},
		{"cat", "cat", "cat >/dev/null"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := osexec.LookPath(bc.interp); err != nil {
				b.Skipf("no %s: %v", bc.interp, err)
			}
			var buf bytes.Buffer
			if _, err := gen.Generate("text", &buf, 16<<20, 1); err != nil {
				b.Fatal(err)
			}
			text := buf.Bytes()
			lines := splitLines(text)
			ctx := context.Background()
			var quern, program time.Duration
			var switches int64
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for range b.N {
				before, sw := selfCPU()
				p, err := Start(Options{Role: "mapper", Command: bc.cmd, Log: io.Discard})
				if err != nil {
					b.Fatal(err)
				}
				emit := func(k, v []byte) {}
				for _, l := range lines {
					if err := p.Write(ctx, l, emit); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.Close(ctx, emit); err != nil {
					b.Fatal(err)
				}
				after, sw2 := selfCPU()
				quern += after - before
				switches += sw2 - sw
				program += p.CPU()
			}
			mb := float64(b.N) * float64(len(text)) / 1e6
			b.ReportMetric(float64(quern.Milliseconds())/mb, "quern-cpu-ms/MB")
			b.ReportMetric(float64(program.Milliseconds())/mb, "program-cpu-ms/MB")
			b.ReportMetric(float64(switches)/mb, "quern-switches/MB")
		})
	}
}

func splitLines(text []byte) [][]byte {
	var lines [][]byte
	for len(text) > 0 {
		i := 0
		for text[i] != '\n' {
			i++
		}
		lines = append(lines, text[:i])
		text = text[i+1:]
	}
	return lines
}

// selfCPU is this process's user and system time so far, and how many
// times its threads were switched out (a wake-up each, mostly).
func selfCPU() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Nvcsw + ru.Nivcsw)
}
