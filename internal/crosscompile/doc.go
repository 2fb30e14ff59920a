// Package crosscompile holds one test, TestCrossCompile, which checks that
// the module and the quern command build for the platforms CI does not run
// on (macOS, Windows). It has no code of its own.
package crosscompile
