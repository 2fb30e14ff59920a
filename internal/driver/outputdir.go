package driver

import (
	"context"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/commit"
)

// The output directory is taken, committed and undone by the output
// committer (package internal/commit).

// prepareOutput takes the output directory for this job (commit.Open). On
// success the caller must close d.output when the job is over.
func (d *driver) prepareOutput(files []input.File) (err error) {
	d.output, err = commit.Open(d.out, commit.Options{Overwrite: d.cfg.Overwrite, Inputs: input.PathsMaybeInside(d.out, files), Usage: ErrConfig})
	return err
}

// removeOutput undoes a failed job's output: committed parts and the
// temporary directory go, so nothing left looks like a finished job, and
// what an object-store output uploaded.
func (d *driver) removeOutput() {
	if d.output == nil {
		return
	}
	if d.upload != nil {
		if err := d.upload.Remove(context.Background()); err != nil {
			d.cfg.Logger.Warn("cannot remove the failed job's uploaded output", "output", d.upload.URL(), "err", err)
		}
	}
	d.output.Abort()
}

// IsJobOutputFile reports whether name, an entry of an output directory,
// is a file a job writes there; --overwrite empties only directories that
// hold nothing else.
func IsJobOutputFile(name string) bool { return commit.IsJobFile(name) }
