package lockfile

// SetWaitForProbe replaces Acquire's wait between attempts until restore.
func SetWaitForProbe(wait func(attempt int) bool) (restore func()) {
	old := waitForProbe
	waitForProbe = wait
	return func() { waitForProbe = old }
}
