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
// Why: the tests' Beam runs, and the worker processes they fork (which
// inherit TMPDIR), write temporary files of their own; a private directory
// keeps whatever they forget out of /tmp. (The empty beamloopbackworker-*
// file the Beam SDK leaves per loopback run, which this was first written
// for, is now removed by beamjob's launcher, runPipeline.)
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
