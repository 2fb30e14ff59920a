//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestProgressBarsOnTerminal runs a job and a pipeline with their output
// on a pseudo-terminal, as a user at a shell sees them, and looks for the
// bars: bytes read of all for the phase that reads the input (the job's
// map phase, the pipeline's read stage), tasks for the others.
func TestProgressBarsOnTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "4MiB")
	for _, tc := range []struct {
		args     []string
		patterns []string
		reads    string // the phase that reads the input
	}{
		{[]string{"run", "wordcount", "-i", "in.txt", "-o", "out", "--split-size", "1MiB", "--workers", "2"},
			[]string{`map\s+[0-9.]+ MiB / 4\.0 MiB.*100 %`, `reduce\s+2/2 tasks.*100 %`, `wordcount: done in`}, "map"},
		{[]string{"run", "topwords", "-i", "in.txt", "-o", "tw", "--split-size", "1MiB", "--workers", "2"},
			[]string{`split\s+[0-9.]+ MiB / 4\.0 MiB.*100 %`, `count\s+2/2 tasks.*100 %`, `top\s+2/2 tasks.*100 %`}, "split"},
	} {
		screen := onTerminal(t, dir, tc.args...)
		for _, pattern := range tc.patterns {
			if !regexp.MustCompile(pattern).MatchString(screen) {
				t.Errorf("%s: screen lacks %q:\n%s", tc.args[1], pattern, screen)
			}
		}
		// The bar counts the input's bytes in every frame.
		for _, m := range regexp.MustCompile(tc.reads+`\s+[0-9.]+ \S+ / ([0-9.]+ \S+)`).FindAllStringSubmatch(screen, -1) {
			if m[1] != "4.0 MiB" {
				t.Errorf("%s: bar %q is not out of the input's 4.0 MiB:\n%s", tc.args[1], m[0], screen)
				break
			}
		}
		if strings.Contains(screen, "msg=progress") {
			t.Errorf("%s: log lines on a terminal, where the bars should be:\n%s", tc.args[1], screen)
		}
	}
}

// onTerminal runs quern with args in dir on a pseudo-terminal and returns
// what it wrote there, without its terminal escapes.
func onTerminal(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := quernCmd(t, dir, nil, args...)
	// A pty with no size makes the CLI fall back to log lines.
	ptm, tty := openPTY(t, 24, 100)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now; EOF on ptm once all its holders exit

	var screen bytes.Buffer
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(&screen, ptm)
		read <- err
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("quern under a pty: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-waited
		t.Error("quern under a pty still running after 30 s")
	}
	select {
	case err := <-read:
		// Linux reports the end of a pty's output as EIO.
		if err != nil && !errors.Is(err, syscall.EIO) {
			t.Errorf("read pty: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("pty output did not end after quern exited")
	}
	ptm.Close()
	if t.Failed() {
		<-read
		t.Fatalf("screen:\n%s", screen.String())
	}
	return stripANSI(screen.String())
}

// TestProgressLogOffTerminal: off a terminal the progress is a log line
// every logInterval (lowered here so that a short job lives through a few).
func TestProgressLogOffTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "512KiB")
	env := []string{logIntervalEnv + "=10ms"}
	r := quernEnv(t, dir, env, "run", "wordcount", "-i", "in.txt", "-o", "out", "--split-size", "64KiB", "--verbose")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, pattern := range []string{
		`level=INFO msg=planned job=wordcount files=1 splits=\d+ reducers=\d+ work=`,
		`level=INFO msg=progress phase=(map|reduce) tasks_done=\d+ tasks=\d+ elapsed=`,
		`level=INFO msg="reduce phase done" job=wordcount`,
	} {
		if !regexp.MustCompile(pattern).MatchString(r.stderr) {
			t.Errorf("stderr lacks %q\n%s", pattern, r)
		}
	}
	if strings.ContainsRune(r.stderr, '\x1b') {
		t.Errorf("terminal escapes off a terminal:\n%q", r.stderr)
	}

	// --quiet silences the progress too.
	r = quernEnv(t, dir, env, "run", "wordcount", "-i", "in.txt", "-o", "out2", "--split-size", "64KiB", "-q")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet printed something\n%s", r)
	}
}

// openPTY opens a pseudo-terminal of the given size and returns its
// controlling side and its terminal side.
func openPTY(t *testing.T, rows, cols uint16) (ptm, tty *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	ptm = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		ptm.Close()
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		ptm.Close()
		t.Fatalf("pty number: %v", err)
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	tty, err = os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ptm.Close()
		t.Fatalf("open %s: %v", name, err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		ptm.Close()
		tty.Close()
		t.Fatalf("size %s: %v", name, err)
	}
	return ptm, tty
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]`)

// stripANSI removes terminal escapes and turns carriage returns into line
// ends, leaving the text a user saw drawn, frame after frame.
func stripANSI(s string) string {
	s = ansiEscape.ReplaceAllString(s, "")
	return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
}
