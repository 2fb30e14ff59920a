// Package streamguard is the guard process that runs a Streaming
// program on Unix (see streaming/guard_unix.go for what it does and why):
// the worker's binary re-executed with Env set, which runs the guard from
// this package's init and exits.
//
// It is a package of its own, importing nothing but the standard library,
// so that Go initializes it early: packages are initialized in import-path
// order as soon as their imports are, and package streaming, which imports
// the whole framework, was initialized after about 400 of quern's 450
// package inits (the object-store SDKs among them), so every program
// started cost a whole quern start, about 100 ms of CPU, before the guard
// ran. The guard has nothing on Windows, where the package is empty.
package streamguard
