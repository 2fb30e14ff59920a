package crosscompile

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// crossTargets are the platforms Quern must build on besides the one CI
// runs on. Only Linux runs the tests; these are compiled, so that nothing
// Linux-only creeps back into code that every platform builds.
var crossTargets = []string{"darwin/arm64", "windows/amd64"}

// sameFilesAs are targets that compile exactly the Go, test and assembly
// files of the module that another target compiles, checked with go list
// (seconds, nothing compiled), so that the other's vet and build cover
// them. Quern's platform code is chosen by GOOS, never by GOARCH, so an
// Intel Mac compiles the module as an Apple-silicon one does, and linux/amd64
// (where the tests run) compiles the dependencies' amd64 code. Vetting and
// linking darwin/amd64 in full would compile every dependency once more,
// about 3 CPU-minutes of a cold CI run on a machine where this test already
// nears go test's timeout, to check the same files again.
var sameFilesAs = map[string]string{"darwin/amd64": "darwin/arm64"}

// TestCrossCompile vets the core module, its tests included, and builds
// the CLI for each of crossTargets with the go command that runs the tests.
// Vet type-checks every package and test file for the target; the build
// links the CLI. It lives in a package of its own so that a cold build
// cache (every dependency compiled for each target) has go test's whole
// timeout to itself; docs/architecture.md#platforms has the cost. The go
// commands stop a little before that timeout, so that a cold cache on a
// loaded machine fails with a message that says so rather than a panic.
func TestCrossCompile(t *testing.T) {
	for _, target := range crossTargets {
		t.Run(strings.ReplaceAll(target, "/", "-"), func(t *testing.T) {
			goTool(t, target, "vet", "./...")
			goTool(t, target, "build", "-o", os.DevNull, "./cmd/quern")
		})
	}
	for target, like := range sameFilesAs {
		t.Run(strings.ReplaceAll(target, "/", "-"), func(t *testing.T) {
			list := []string{"list", "-e", "-f", "{{.ImportPath}} {{.GoFiles}} {{.TestGoFiles}} {{.XTestGoFiles}} {{.SFiles}} {{.Error}}", "./..."}
			if got, want := goTool(t, target, list...), goTool(t, like, list...); !bytes.Equal(got, want) {
				t.Errorf("%s compiles other Go files than %s, so vetting %s does not cover it; add it to crossTargets\n%s:\n%s\n%s:\n%s",
					target, like, like, target, got, like, want)
			}
		})
	}
}

// goTool runs the go command with args in the module's root for target
// (GOOS/GOARCH, without cgo) and returns its standard output; a failure
// fails t with the command's output.
func goTool(t *testing.T, target string, args ...string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil && runtime.GOOS == "windows" {
		// The Windows tests run under Wine (.ci/windows), built elsewhere.
		t.Skipf("the cross-compilation check needs the go command, and there is none here: %v", err)
	}
	if err != nil {
		t.Fatalf("the cross-compilation check needs the go command on PATH: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goos, goarch, _ := strings.Cut(target, "/")
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-15*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("GOOS=%s GOARCH=%s go %s did not finish before go test's -timeout: a cold build cache compiles every dependency for each target (minutes on a loaded machine); run go test -timeout 30m ./internal/crosscompile/\n%s", goos, goarch, strings.Join(args, " "), stderr.Bytes())
	}
	if err != nil {
		t.Errorf("GOOS=%s GOARCH=%s go %s: %v\n%s%s", goos, goarch, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}
