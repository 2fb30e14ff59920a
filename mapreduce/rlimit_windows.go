package mapreduce

// openFileLimit is 0 (unknown): Windows has no RLIMIT_NOFILE, and its C
// runtime's limit does not apply to the handles Go opens.
func openFileLimit() int64 { return 0 }
