// Package beamtest holds what the Beam module's tests share.
package beamtest

import (
	"os"

	"go.uber.org/goleak"
)

// PrivateTempDir points os.TempDir (TMPDIR) at a new directory and returns a
// goleak option that removes it, and exits, when the tests end. Call it at
// the top of TestMain and pass the option to goleak.VerifyTestMain.
//
// Why: the Beam SDK's loopback runner creates an empty
// beamloopbackworker-* file in os.TempDir() for every pipeline and never
// removes it (runnerlib/execute.go, SDK v2.77.0), so each test run left nine
// files in /tmp. Worker processes the tests fork inherit TMPDIR, so theirs go
// there too.
func PrivateTempDir() goleak.Option {
	remove := UsePrivateTempDir()
	return goleak.Cleanup(func(exitCode int) {
		remove()
		os.Exit(exitCode)
	})
}

// UsePrivateTempDir points os.TempDir (TMPDIR) at a new directory, for the
// reason above, and returns the function that removes it: for a TestMain
// without goleak.
func UsePrivateTempDir() (remove func()) {
	dir, err := os.MkdirTemp("", "quern-beam-test-")
	if err != nil {
		panic(err)
	}
	if err := os.Setenv("TMPDIR", dir); err != nil {
		panic(err)
	}
	return func() { os.RemoveAll(dir) }
}
