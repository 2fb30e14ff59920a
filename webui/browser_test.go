package webui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/webui"
)

// findBrowser returns the Chromium to drive: $QUERN_CHROMIUM, else the
// first of the usual names on $PATH. The test fails, never skips, without
// one: .ci/run installs Debian's chromium package.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("QUERN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := osexec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found for the browser test of the status page: install it " +
		"(Debian: apt-get install -y chromium, as .ci/run does) or set QUERN_CHROMIUM to its path")
	return ""
}

// browser starts a headless Chromium for the test, with a fresh profile
// and no background connections (this network refuses them), and collects
// the page's console errors and uncaught exceptions.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findBrowser(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium keeps its singleton socket in TMPDIR/org.chromium.Chromium.*
		// and leaves it behind: give it the test's own temp folder.
		chromedp.Env("TMPDIR=" + t.TempDir()),
		chromedp.WindowSize(1280, 1400),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console "+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "browser log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}), "start Chromium")
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// screenshot saves the page as PNG under the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
	if dir := os.Getenv("QUERN_SCREENSHOT_DIR"); dir != "" { // to look at them after the test
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
}

// TestBrowser loads the live page of a running job in headless Chromium,
// then, once the job is over, the history list and the finished job's
// page, and checks that the task table, the counters and the duration
// chart render, with no console error.
func TestBrowser(t *testing.T) {
	ctx, problems := browser(t)
	j := startGatedJob(t)

	// Live: the tasks run (the gate is shut), the failed attempt shows.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(j.srv.URL())))
	waitFor(t, ctx, `#tasks`, `#durations rect`, `#failures .logtail`)
	cells := text(t, ctx, `#tasks`)
	require.Contains(t, cells, "map-00000")
	require.Contains(t, cells, "running")
	require.Contains(t, text(t, ctx, `#failures .logtail`), workerLogLine)
	screenshot(t, ctx, "live-running.png")

	// The page follows the job to its end by itself.
	j.open(t)
	waitFor(t, ctx, `#hstate .succeeded`)
	counters := text(t, ctx, `#counters`)
	require.Contains(t, counters, "map_output_records")
	require.Contains(t, counters, "15")
	cells = text(t, ctx, `#tasks`)
	require.Contains(t, cells, "reduce-00001")
	require.NotContains(t, cells, "running")
	screenshot(t, ctx, "live-done.png")
	require.NoError(t, <-j.done)
	j.done <- nil

	// History: the list of jobs (the finished one, a second copy, to
	// compare, and a third whose report has warnings) and the job's page.
	warned := withWarnings(t, j.out, "input files grew while the job ran", "a <b>second</b> warning")
	jobs, _, err := webui.LoadHistory([]string{j.out, j.out, warned})
	require.NoError(t, err)
	hist, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer hist.Close()
	hist.AddFinished(jobs)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(hist.URL())))
	waitFor(t, ctx, `#compare`)
	require.Equal(t, 3, strings.Count(text(t, ctx, `#jobs`), "webui-test-gated"))
	warnings, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#jobs tr")].slice(1).map((r) => r.cells[9].innerText)`))
	require.NoError(t, err)
	require.Equal(t, []string{"0", "0", "2"}, warnings, "the list's warnings column")
	require.Contains(t, text(t, ctx, `#compare`), "map_output_records")
	screenshot(t, ctx, "history-list.png")
	// A click on a link navigates: wait for the new page to load, or the
	// next question to the page races the navigation and fails with
	// "Inspected target navigated or closed" (as it did in CI).
	_, err = chromedp.RunResponse(ctx, chromedp.Click(`#jobs a`))
	require.NoError(t, err)
	waitFor(t, ctx, `#durations rect`, `#origin`)
	require.Contains(t, text(t, ctx, `#counters`), "map_output_records")
	wd, err := os.Getwd()
	require.NoError(t, err)
	origin := text(t, ctx, `#origin`)
	require.Contains(t, origin, filepath.Base(os.Args[0]), "the command line")
	require.Contains(t, origin, "in "+wd)
	require.Contains(t, text(t, ctx, `#tasks`), "map-00002")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#durations rect").length`))
	require.NoError(t, err)
	require.Equal(t, 3+1+2, bars, "one bar per attempt: three maps, a retry, two reduces")
	screenshot(t, ctx, "history-job.png")

	// A job with warnings shows them, as text.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(hist.URL()+"job/2")))
	waitFor(t, ctx, `#warnings`, `#tasks`)
	require.Equal(t, "input files grew while the job ran\na <b>second</b> warning", text(t, ctx, `#warnings`))
	screenshot(t, ctx, "history-warnings.png")

	// On a phone the page fits the screen's width: only the task table
	// scrolls sideways, inside its box.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload()))
	waitFor(t, ctx, `#tasks`)
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, overflow, 0, "the page is wider than a phone's screen")
	screenshot(t, ctx, "history-job-phone.png")

	require.Empty(t, problems(), "the pages logged errors")
}

// waitFor waits until the page has an element for every CSS selector.
// It asks the page itself rather than tracking DOM nodes, because the live
// page replaces its content at every poll.
func waitFor(t *testing.T, ctx context.Context, selectors ...string) {
	t.Helper()
	js, err := json.Marshal(selectors)
	require.NoError(t, err)
	expr := fmt.Sprintf(`%s.every((s) => document.querySelector(s) !== null)`, js)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		require.NoError(t, err)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("timed out waiting for %v on the page; it shows:\n%s", selectors, html)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// text returns the text of the element that sel finds.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	js, err := json.Marshal(sel)
	require.NoError(t, err)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%s).innerText`, js)))
	require.NoError(t, err, sel)
	return s
}

// withWarnings copies the _job.json of the output directory out into a new
// directory, with warnings added, and returns the directory.
func withWarnings(t *testing.T, out string, warnings ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var report map[string]any
	require.NoError(t, json.Unmarshal(data, &report))
	report["warnings"] = warnings
	data, err = json.Marshal(report)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "_job.json"), data, 0o644))
	return dir
}
