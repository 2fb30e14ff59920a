package crosscompile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// crossTargets are the platforms Quern must build on besides the one CI
// runs on. Only Linux runs the tests; these are compiled, so that nothing
// Linux-only creeps back into code that every platform builds. Quern's
// platform code is chosen by GOOS, never by GOARCH, so one macOS target
// covers both Macs: darwin/amd64 was dropped when the object-store SDKs
// made each cold target cost about 3 CPU-minutes of CI.
var crossTargets = []string{"darwin/arm64", "windows/amd64"}

// TestCrossCompile vets the core module, its tests included, and builds
// the CLI for each of crossTargets with the go command that runs the tests.
// Vet type-checks every package and test file for the target; the build
// links the CLI. It lives in a package of its own so that a cold build
// cache (every dependency compiled three more times) has go test's whole
// timeout to itself; docs/architecture.md#platforms has the cost.
func TestCrossCompile(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the cross-compilation check needs the go command on PATH: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range crossTargets {
		t.Run(strings.ReplaceAll(target, "/", "-"), func(t *testing.T) {
			goos, goarch, _ := strings.Cut(target, "/")
			env := append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
			for _, args := range [][]string{
				{"vet", "./..."},
				{"build", "-o", os.DevNull, "./cmd/quern"},
			} {
				cmd := exec.Command(goBin, args...)
				cmd.Dir = root
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("GOOS=%s GOARCH=%s go %s: %v\n%s", goos, goarch, strings.Join(args, " "), err, out)
				}
			}
		})
	}
}
