package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/quern-dev/quern/internal/pathfmt"
	"github.com/quern-dev/quern/internal/sysmem"
	"github.com/quern-dev/quern/mapreduce"
)

// message is err's text for the user. The operating system words a missing
// or forbidden path its own way and names the system call that met it:
// "stat nope.txt: no such file or directory" on Linux, "GetFileAttributesEx
// nope.txt: The system cannot find the file specified." on Windows. Quern
// says those two the same way everywhere ("no such file or directory:
// nope.txt", "permission denied: PATH"), so that its messages, docs and
// tests do not depend on the platform; any other error reads as it is. A
// full disk gets a second line saying what to do (diskFullAdvice).
func message(err error) string {
	msg := pathMessage(err)
	if isDiskFull(err, msg) {
		msg += "\nquern: " + diskFullAdvice
	}
	if strings.Contains(msg, "signal: killed") {
		msg += "\nquern: " + killedAdvice(sysmem.Limit())
	}
	return msg
}

// killedAdvice follows the error of a job whose worker was killed with
// SIGKILL, which is most often the kernel's OOM killer: the error itself
// says only "signal: killed". limit, from and ok are sysmem.Limit's.
func killedAdvice(limit int64, from string, ok bool) string {
	advice := "a worker was killed (SIGKILL), most often by the kernel's OOM killer when memory runs out (dmesg says so); "
	if ok {
		advice += fmt.Sprintf("this process runs under a memory limit of %s (%s); ", mapreduce.FormatSize(limit/(1<<20)*(1<<20)), from)
	}
	return advice + "give the job less to hold: fewer --workers, a smaller --sort-buffer (quern run --dry-run shows the memory it plans)"
}

func pathMessage(err error) string {
	msg := err.Error()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return msg
	}
	var plain string
	switch {
	case errors.Is(pe.Err, fs.ErrNotExist):
		plain = "no such file or directory: " + pe.Path
		// A symbolic link whose target is gone is listed by ls, so
		// "no such file" alone reads as a contradiction.
		if target, err := os.Readlink(pe.Path); err == nil {
			plain += fmt.Sprintf(" (a symbolic link to %s, which does not exist)", pathfmt.Quote(target))
		}
	case errors.Is(pe.Err, fs.ErrPermission):
		plain = "permission denied: " + pe.Path
	default:
		return msg
	}
	// The path error's text is in msg unless a wrapper reworded it
	// (wrapped with %v, not %w); then msg stays as it is.
	return strings.Replace(msg, pe.Error(), plain, 1)
}

// diskFullAdvice follows the error of a job that filled a disk. Where a
// job writes is not obvious: spill runs go to the system's temporary
// folder, which is often a small in-memory /tmp, unless --tmp-dir says.
const diskFullAdvice = "a disk is full. Spill runs go to --tmp-dir (the system's temporary folder when it is not given, often small), " +
	"part files to the output directory: give --tmp-dir a folder on a disk with room, or make spill runs smaller with --spill-compression lz4"

// diskFullWords are each platform's words for a full disk (ENOSPC; Windows'
// ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL): a task's error reaches the
// driver from its worker as text.
var diskFullWords = []string{"no space left on device", "There is not enough space on the disk", "The disk is full"}

func isDiskFull(err error, msg string) bool {
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	return slices.ContainsFunc(diskFullWords, func(w string) bool { return strings.Contains(msg, w) })
}
