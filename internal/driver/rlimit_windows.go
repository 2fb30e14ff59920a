package driver

// openFileLimit is the most handles a Windows process may hold, 2^24
// ("Pushing the Limits of Windows: Handles"): Windows has no RLIMIT_NOFILE,
// and its C runtime's limit does not apply to the handles Go opens. A merge
// fan-in beyond it could never open its runs.
func openFileLimit() int64 { return 1 << 24 }

// openFileLimitName says where openFileLimit comes from, for messages.
const openFileLimitName = "Windows' limit on a process's handles"
