// Package winjob starts a command in a Windows Job Object of its own, so
// that the command and every process it starts can be killed as one, die
// with the process that started them, and have their peak memory counted:
// what a process group, Pdeathsig and rusage give on Unix. The package is
// empty elsewhere.
//
// The command starts suspended and is put in the job before its first
// instruction runs, so no process it starts can escape the job by being
// quick. Jobs nest (Windows 8 and later): a command started by a process
// that is itself in a job, such as a Quern worker, gets a job of its own
// inside that one.
package winjob
