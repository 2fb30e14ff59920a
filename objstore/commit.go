package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/quern-dev/quern/internal/manifest"
)

// ErrOutput is wrapped by the errors of [PrepareOutput] for an output
// prefix a job must not write to.
var ErrOutput = errors.New("objstore: output refused")

// SuccessName is the marker a job writes last into its output prefix: the
// commit point. Its content is the manifest (see [WriteSuccess]).
const SuccessName = "_SUCCESS"

// PrepareOutput checks the output prefix out before a job writes to it,
// under the job's lock (AcquireLock), which it leaves alone. It refuses a
// prefix that holds objects whose first name element isJobName rejects
// (someone else's data), and a prefix that holds a previous job's output
// unless overwrite is set. A finished output (one with _SUCCESS) stays
// until the new job commits, so that a job that fails loses nothing: the
// keys of its objects are returned, for [Uncommit] and [DeleteReplaced]
// when the new one commits. What a job that never committed left is
// deleted now.
func PrepareOutput(ctx context.Context, out string, overwrite bool, isJobName func(string) bool) (previous []string, err error) {
	s, u, err := Open(ctx, out)
	if err != nil {
		return nil, err
	}
	if u.Key == "" {
		return nil, fmt.Errorf("%w: output %s is a whole bucket; name a prefix in it, e.g. %s", ErrOutput, out, u.Join("out"))
	}
	objs, err := s.List(ctx, u.Dir())
	if err != nil {
		return nil, fmt.Errorf("objstore: list output %s: %w", out, err)
	}
	// The job's own lock (AcquireLock), taken before this check.
	objs = slices.DeleteFunc(objs, func(o Attrs) bool { return o.Key == u.Dir()+LockName })
	if len(objs) == 0 {
		if _, err := s.Attrs(ctx, strings.TrimSuffix(u.Key, "/")); err == nil {
			return nil, fmt.Errorf("%w: output %s is an object, not a prefix; name a new prefix for the output", ErrOutput, out)
		}
		return nil, nil
	}
	var foreign []string
	finished := false
	for _, o := range objs {
		first, _, _ := strings.Cut(strings.TrimPrefix(o.Key, u.Dir()), "/")
		if !isJobName(first) {
			foreign = append(foreign, first)
		}
		finished = finished || first == SuccessName
	}
	if len(foreign) > 0 {
		shown := foreign[:min(len(foreign), 3)]
		return nil, fmt.Errorf("%w: output %s holds objects quern did not write (%s); choose a new output prefix",
			ErrOutput, out, strings.Join(shown, ", "))
	}
	if !overwrite {
		return nil, fmt.Errorf("%w: output %s is not empty; choose a new prefix, delete it, or overwrite it (--overwrite)", ErrOutput, out)
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	if finished {
		return keys, nil
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			return nil, fmt.Errorf("objstore: overwrite %s: %w", out, err)
		}
	}
	return nil, nil
}

// A commit over a previous output (PrepareOutput's previous keys) frames
// the upload of the new one with two steps: Uncommit before it, so that
// the prefix stops being a committed output before any of its objects is
// replaced, and DeleteReplaced after it, so that the new _SUCCESS,
// written next, commits the new output alone.

// Uncommit deletes the _SUCCESS of the output prefix out.
func Uncommit(ctx context.Context, out string) error {
	s, u, err := Open(ctx, out)
	if err == nil {
		err = s.Delete(ctx, u.Dir()+SuccessName)
	}
	if err != nil {
		return fmt.Errorf("objstore: overwrite %s: %w", out, err)
	}
	return nil
}

// DeleteReplaced deletes the objects of a previous output in out
// (previous, as PrepareOutput returned them) that the new output did not
// write over (written reports the keys it wrote).
func DeleteReplaced(ctx context.Context, out string, previous []string, written func(key string) bool) error {
	if len(previous) == 0 {
		return nil
	}
	s, _, err := Open(ctx, out)
	if err != nil {
		return err
	}
	for _, k := range previous {
		if written(k) {
			continue
		}
		if err := s.Delete(ctx, k); err != nil {
			return fmt.Errorf("objstore: overwrite %s: %w", out, err)
		}
	}
	return nil
}

// Upload copies the local file src to the object url.
func Upload(ctx context.Context, src, url string) (Attrs, error) {
	s, u, err := Open(ctx, url)
	if err != nil {
		return Attrs{}, err
	}
	f, err := os.Open(src)
	if err != nil {
		return Attrs{}, err
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a writer not closed when ctx ends leaves no object
	w, err := s.NewWriter(ctx, u.Key)
	if err != nil {
		return Attrs{}, fmt.Errorf("objstore: upload %s: %w", url, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		cancel()
		w.Close()
		return Attrs{}, fmt.Errorf("objstore: upload %s to %s: %w", src, url, err)
	}
	if err := w.Close(); err != nil {
		return Attrs{}, fmt.Errorf("objstore: upload %s to %s: %w", src, url, err)
	}
	a, err := s.Attrs(ctx, u.Key)
	if err != nil {
		return Attrs{}, fmt.Errorf("objstore: upload %s: %w", url, err)
	}
	return a, nil
}

// WriteObject writes data to the object url in one piece.
func WriteObject(ctx context.Context, url string, data []byte) error {
	s, u, err := Open(ctx, url)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.NewWriter(ctx, u.Key)
	if err == nil {
		if _, err = w.Write(data); err != nil {
			cancel()
		}
		err = errors.Join(err, w.Close())
	}
	if err != nil {
		return fmt.Errorf("objstore: write %s: %w", url, err)
	}
	return nil
}

// ReadObject returns the content of the object url.
func ReadObject(ctx context.Context, url string) ([]byte, error) {
	s, u, err := Open(ctx, url)
	if err != nil {
		return nil, err
	}
	r, err := s.NewRangeReader(ctx, u.Key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("objstore: read %s: %w", url, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("objstore: read %s: %w", url, err)
	}
	return b, nil
}

// The content of _SUCCESS is the manifest of the committed parts (package
// internal/manifest has the format), names relative to the output prefix:
// a reader that wants exactly the committed output reads _SUCCESS first
// and then the parts it names, checking their sizes, as ReadSuccess does.

// WriteSuccess writes the _SUCCESS marker with the manifest of parts into
// the output prefix out. It must be the job's last write.
func WriteSuccess(ctx context.Context, out string, parts []Attrs) error {
	u, err := Parse(out)
	if err != nil {
		return err
	}
	entries := make([]manifest.Entry, len(parts))
	for i, p := range parts {
		entries[i] = manifest.Entry{Name: strings.TrimPrefix(p.Key, u.Dir()), Size: p.Size}
	}
	return WriteObject(ctx, u.Join(u.Dir()+SuccessName), manifest.Encode(entries))
}

// ReadSuccess returns the parts that out's _SUCCESS manifest names, as
// URLs, after checking that each is there with its recorded size (the
// error wraps manifest.ErrDamaged if not). An output without _SUCCESS was
// not committed: the error wraps fs.ErrNotExist.
func ReadSuccess(ctx context.Context, out string) ([]string, error) {
	s, u, err := Open(ctx, out)
	if err != nil {
		return nil, err
	}
	success := u.Join(u.Dir() + SuccessName)
	data, err := ReadObject(ctx, success)
	if err != nil {
		return nil, err
	}
	entries, err := manifest.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("objstore: %s: %w", success, err)
	}
	err = manifest.Check(out, entries, func(name string) (int64, error) {
		a, err := s.Attrs(ctx, u.Dir()+name)
		return a.Size, err
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: %w", err)
	}
	parts := make([]string, len(entries))
	for i, e := range entries {
		parts[i] = u.Join(u.Dir() + e.Name)
	}
	return parts, nil
}

// DeletePrefix deletes every object under the prefix dir (a URL), for the
// clean-up of a failed job; errors are joined and the rest still go.
func DeletePrefix(ctx context.Context, dir string) error {
	s, u, err := Open(ctx, dir)
	if err != nil {
		return err
	}
	objs, err := s.List(ctx, u.Dir())
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		errs = append(errs, s.Delete(ctx, o.Key))
	}
	return errors.Join(errs...)
}
