//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/container/pool"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/beam/beamjob"
	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/pipeline"
)

// The portable-submission test: a Prism job server in a process of its
// own, an EXTERNAL worker pool that starts Beam's boot program for each
// worker (the Flink/Spark-on-Kubernetes sidecar pattern), and quern-beam
// submitting through the portable job API. Prism, boot and quern-beam are
// built from the module cache; nothing is downloaded.

// beamTools builds Prism's job server, Beam's Go boot program and
// quern-beam, the launcher and worker binary, as docs/scale-out.md tells a
// user to build it.
//
// Why quern-beam and not this test binary, and why stripped (-s -w): Prism
// gives a worker one minute, hard-coded (prism/internal/execute.go,
// v2.77.0), from the job's start to the worker's control connection, and
// in that minute boot downloads the staged binary from Prism in one gRPC
// message, hashes it, writes it and copies it before it starts it: about
// 4.3 s of CPU for a 187 MB binary (perf: memmove in gRPC and protobuf,
// page-cache writes), and this test binary is 190 MB. At load 20 to 30
// on 2 cores, where boot gets a tenth of a core or less, that missed the
// minute (3 apps of the first 5 at load 22). Stripped quern-beam is
// 126 MB: a third less to copy (13 apps of 13 passed at load 22 to 27; at
// load 33 it, too, missed the minute). The Beam SDK needs no symbol table
// in a worker whose functions are all registered, as beamjob's are.
func beamTools(t *testing.T, dir string) (prism, boot, quernBeam string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", dir+"/",
		"github.com/apache/beam/sdks/v2/go/cmd/prism", "github.com/apache/beam/sdks/v2/go/container", ".")
	cmd.Env = append(os.Environ(), "GOPROXY=off") // from the module cache only
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build prism, boot and quern-beam: %s", out)
	return filepath.Join(dir, "prism"), filepath.Join(dir, "container"), filepath.Join(dir, "quern-beam")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// processesMentioning lists the live processes whose command line contains
// s (zombies, which hold nothing, are left out).
func processesMentioning(s string) []string {
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		found = append(found, filepath.Base(d)+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

// bootCopies lists boot's per-worker copies of the worker binary
// (/tmp/binNNN/worker, a path boot hard-codes).
func bootCopies() []string {
	m, _ := filepath.Glob("/tmp/bin*/worker")
	return m
}

func TestJobServerWithWorkerPool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Prism, boot and quern-beam (≈15 s warm)")
	}
	dir := t.TempDir()
	prismBin, boot, quernBeam := beamTools(t, dir)
	copiesBefore := bootCopies()

	// The job server, as `prism` runs it beside a cluster.
	jobPort := freePort(t)
	prism := exec.Command(prismBin, "--job_port", strconv.Itoa(jobPort), "--serve_http=false", "--log_level=warn")
	var prismLog bytes.Buffer
	prism.Stdout, prism.Stderr = &prismLog, &prismLog
	require.NoError(t, prism.Start())
	t.Cleanup(func() {
		prism.Process.Kill()
		prism.Wait()
		if t.Failed() {
			t.Logf("prism:\n%s", prismLog.String())
		}
	})

	// The worker pool, as the sidecar runs it (boot --worker_pool is
	// Beam's pool package on port 50000; here on a free port). Boot runs
	// in a folder of the test's own, where it leaves
	// pipeline_options.json and the staged binary (semi_persist_dir).
	work := filepath.Join(dir, "boot")
	require.NoError(t, os.Mkdir(work, 0o755))
	wrapper := filepath.Join(dir, "boot.sh")
	require.NoError(t, os.WriteFile(wrapper, []byte(fmt.Sprintf(
		"#!/bin/sh\ncd %q || exit 1\nexec %q --semi_persist_dir=%q \"$@\" >>boot.log 2>&1\n", work, boot, work)), 0o755))
	poolPort := freePort(t)
	ctx := context.Background()
	workers, err := pool.New(ctx, poolPort, wrapper)
	require.NoError(t, err)
	go workers.ServeAndWait()
	t.Cleanup(func() {
		workers.Stop(ctx)
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(work, "boot.log"))
			t.Logf("boot:\n%s", log)
		}
	})

	apps := appInputs(t, dir)
	beamtest.WaitFor(t, "prism to listen", func() bool {
		c, err := net.Dial("tcp", "localhost:"+strconv.Itoa(jobPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	for _, app := range slices.Sorted(maps.Keys(apps)) {
		c := apps[app]
		t.Run(app, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+app)
			args := []string{"run", app, "--output", out, "--runner", "universal"}
			for _, in := range c.inputs {
				args = append(args, "--input", in)
			}
			for _, name := range slices.Sorted(maps.Keys(c.params)) {
				args = append(args, "--"+name, c.params[name])
			}
			args = append(args, "--",
				"--endpoint=localhost:"+strconv.Itoa(jobPort), "--environment_type=EXTERNAL",
				"--environment_config=localhost:"+strconv.Itoa(poolPort), "--worker_binary="+quernBeam)
			got, err := exec.Command(quernBeam, args...).CombinedOutput()
			require.NoError(t, err, "quern-beam:\n%s", got)
			require.Contains(t, string(got), app+": done on beam (universal)")

			local := filepath.Join(dir, "local-"+app)
			cfg := mapreduce.Config{Inputs: c.inputs, Output: local, TmpDir: t.TempDir(), Params: c.params}
			if p, ok := pipeline.Lookup(app); ok {
				_, err = p.Run(ctx, cfg)
			} else {
				_, err = mapreduce.RunNamed(ctx, app, cfg)
			}
			require.NoError(t, err)
			require.Equal(t, sortedLines(t, local), sortedLines(t, out))
			require.FileExists(t, filepath.Join(out, "_SUCCESS"))
		})
	}

	// Every worker exits once its job is done, and removes boot's copy of
	// the binary; boot itself is stopped by the pool.
	beamtest.WaitFor(t, "the workers and boot to exit", func() bool { return len(processesMentioning(work)) == 0 })
	require.Empty(t, processesMentioning(work))
	require.ElementsMatch(t, copiesBefore, bootCopies(), "boot's copies of the worker binary are left in /tmp")
}

// appCase is one app's input and parameters in the job-server test.
type appCase struct {
	inputs []string
	params map[string]string
}

// appInputs writes small inputs for every registered app and pipeline
// that runs on Beam, and fails when one has none, so that a new app is not
// left out of the portable-submission test.
func appInputs(t *testing.T, dir string) map[string]appCase {
	t.Helper()
	write := func(name, kind string, size int64, seed uint64) string {
		return beamtest.Generate(t, dir, name, kind, size, seed)
	}
	docs := filepath.Join(dir, "docs")
	require.NoError(t, os.Mkdir(docs, 0o755))
	for i, text := range []string{"the quick brown fox\njumps over the lazy dog\n", "the dog barks\nthe fox runs\nlisten silent enlist\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(docs, fmt.Sprintf("doc%d.txt", i)), []byte(strings.Repeat(text, 30)), 0o644))
	}
	text := write("a.txt", "text", 16<<10, 1)
	logs := write("a.log", "logs", 16<<10, 2)
	html := write("pages.jsonl", "html", 16<<10, 3)
	users, orders := filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")
	require.NoError(t, os.WriteFile(users, []byte("id,name,city\n1,ada,Oslo\n2,bob,Lima\n3,cy,Oslo\n3,cy2,Quito\n"), 0o644))
	require.NoError(t, os.WriteFile(orders, []byte("order_id,user_id,amount\n7,1,2.50\n8,1,4\n9,3,1\n10,2,3\n11,5,1\n"), 0o644))
	// pagerank's graph gives no node more than two in-edges, so that its
	// ranks add up the same in any order and compare as text: 1 and 3
	// have two, 2 one, and 4 none.
	edges := filepath.Join(dir, "edges.txt")
	require.NoError(t, os.WriteFile(edges, []byte("1\t2\n2\t3\n3\t1\n1\t3\n4\t1\n"), 0o644))
	sides := map[string]string{"left": users, "right": orders, "left-key": "id", "right-key": "user_id"}
	cases := map[string]appCase{
		"wordcount":     {[]string{docs}, nil},
		"invertedindex": {[]string{docs}, nil},
		"topk":          {[]string{text}, map[string]string{"k": "5"}},
		"anagrams":      {[]string{docs}, nil},
		"grep":          {[]string{text}, map[string]string{"pattern": "th[ae]"}},
		"sort":          {[]string{text}, map[string]string{"records": "lines"}},
		"urlcount":      {[]string{logs}, nil},
		"termvector":    {[]string{html}, nil},
		"reverselinks":  {[]string{html}, nil},
		"topwords":      {[]string{text}, map[string]string{"k": "5"}},
		"pagerank":      {[]string{edges}, map[string]string{"iterations": "3"}},
		"join":          {[]string{users, orders}, sides},
		"joinagg":       {[]string{users, orders}, map[string]string{"left": users, "right": orders, "left-key": "id", "right-key": "user_id", "group-by": "city", "sum": "amount"}},
	}
	for _, info := range mapreduce.Jobs() {
		require.Contains(t, cases, info.Name, "app %q has no case in the job-server test", info.Name)
	}
	for _, p := range pipeline.All() {
		if beamjob.CanRun(p) == nil {
			require.Contains(t, cases, p.Name, "pipeline %q has no case in the job-server test", p.Name)
		}
	}
	return cases
}

// sortedLines reads every part file of an output directory as sorted text
// lines.
func sortedLines(t *testing.T, dir string) []string {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	require.NoError(t, err)
	require.NotEmpty(t, parts, dir)
	var buf bytes.Buffer
	for _, p := range parts {
		require.NoError(t, output.Cat(&buf, p))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	slices.Sort(lines)
	return lines
}
