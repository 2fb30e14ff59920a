package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/internal/manifest"
	"github.com/quern-dev/quern/objstore"
)

// Inputs in an object store (s3://bucket/key, gs://bucket/key; see
// package objstore). They are found, split and read as files are:
//
//   - an object URL is that object;
//   - a URL that names no object is a "directory", standing for every
//     object whose key starts with it and a "/", except those with an
//     element starting with "." or "_" below it (_SUCCESS, _temporary);
//   - a URL with glob characters matches keys one "/"-separated element at
//     a time, "**" matching any number of elements, as for files.
//
// Compression is sniffed from the first bytes, as for files. A split reads
// its byte range with one ranged GET from Start-1 to the end of the object,
// closed as soon as the split's last line is read. What [ChangedError]
// compares for an object is its size and its version (ETag on S3,
// generation on GCS), as the GET that reads it reports them.

// objectAlt adds the objects that one alternative of arg, an object URL,
// stands for.
func (e *expander) objectAlt(alt, arg string, inPattern bool) error {
	ctx := e.ctx
	s, u, err := objstore.Open(ctx, alt)
	if err != nil {
		return fmt.Errorf("input: argument %q: %w", arg, err)
	}
	if isGlob(u.Key) {
		return e.objectGlob(ctx, s, u, arg)
	}
	if u.Key != "" && !strings.HasSuffix(u.Key, "/") {
		a, err := s.Attrs(ctx, u.Key)
		if err == nil {
			e.matched++
			return e.object(ctx, s, u, a, arg)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("input: argument %q: %w", arg, err)
		}
	}
	list, err := s.List(ctx, u.Dir())
	if err != nil {
		return fmt.Errorf("input: argument %q: %w", arg, err)
	}
	finished := map[string]bool{} // "directories" holding a _SUCCESS object
	// bookkeeping maps a "directory" to an object of a job writing it (as
	// for files, commit.InProgress; and the output lock, which a job holds
	// while it uploads its parts).
	bookkeeping := map[string]string{}
	for _, a := range list {
		if path.Base(a.Key) == successMarker {
			finished[path.Dir(a.Key)] = true
		}
		dir := "."
		for el := range strings.SplitSeq(a.Key, "/") {
			if commit.InProgress(el) || el == objstore.LockName {
				bookkeeping[dir] = el
				break
			}
			dir = path.Join(dir, el)
		}
	}
	if err := verifyObjectOutputs(ctx, u, list); err != nil {
		return fmt.Errorf("input: argument %q: %w", arg, err)
	}
	n := 0
	for _, a := range list {
		dir := path.Dir(a.Key)
		if hiddenBelow(strings.TrimPrefix(a.Key, u.Dir())) || jobOutputCopy(path.Base(a.Key), finished[dir]) {
			continue
		}
		if m := bookkeeping[dir]; m != "" && !finished[dir] && strings.HasPrefix(path.Base(a.Key), "part-") {
			where := fmt.Sprintf("%q", u.Join(dir))
			if u.Join(dir) != strings.TrimSuffix(alt, "/") {
				where += fmt.Sprintf(" (below argument %q)", arg)
			}
			return unfinishedError(where, m, fmt.Sprintf("%q", u.Join(dir+"/part-*")))
		}
		n++
		if err := e.object(ctx, s, u, a, arg); err != nil {
			return err
		}
	}
	e.matched += n
	switch {
	case len(list) == 0 && !inPattern:
		return fmt.Errorf("input: argument %q: no object %s and no object below it: %w", arg, alt, fs.ErrNotExist)
	case n == 0 && !inPattern:
		return fmt.Errorf("%w: prefix %q holds no input object (hidden and _ objects are skipped)", ErrNoInput, arg)
	}
	return nil
}

// verifyObjectOutputs checks the finished outputs ("directories" holding
// _SUCCESS) that a listing of u's prefix reads against their manifests,
// as a local walk does with commit.Verify: a part listed in _SUCCESS that
// the listing lacks, or has with another size, means the output was
// damaged after its job committed. The listing has every size, so this
// costs one GET per finished output.
func verifyObjectOutputs(ctx context.Context, u objstore.URL, list []objstore.Attrs) error {
	size := make(map[string]int64, len(list))
	for _, a := range list {
		size[a.Key] = a.Size
	}
	for _, a := range list {
		dir := path.Dir(strings.TrimPrefix(a.Key, u.Dir())) // "." for the prefix itself
		if path.Base(a.Key) != successMarker || dir != "." && hiddenBelow(dir) {
			continue // not an output, or one the listing does not read
		}
		data, err := objstore.ReadObject(ctx, u.Join(a.Key))
		if err != nil {
			return err
		}
		entries, err := manifest.Parse(data)
		if err != nil {
			continue // not Quern's: nothing to check against
		}
		out, where := path.Dir(a.Key), u.Join(path.Dir(a.Key))
		if out == "." {
			where = u.Join("") // the bucket's root
		}
		err = manifest.Check(where, entries, func(name string) (int64, error) {
			n, ok := size[path.Join(out, name)]
			if !ok {
				return 0, fs.ErrNotExist
			}
			return n, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// hiddenBelow reports whether a key relative to a listed prefix has a
// hidden element (see hidden).
func hiddenBelow(rel string) bool {
	for el := range strings.SplitSeq(rel, "/") {
		if hidden(el) {
			return true
		}
	}
	return false
}

// objectGlob adds the objects whose keys match u.Key, a pattern. It lists
// the literal directory part of the pattern once and matches every key
// below it.
func (e *expander) objectGlob(ctx context.Context, s objstore.Store, u objstore.URL, arg string) error {
	elems := strings.Split(u.Key, "/")
	lit := 0
	for lit < len(elems) && !isGlob(elems[lit]) {
		lit++
	}
	for _, el := range elems[lit:] {
		if _, err := path.Match(el, ""); err != nil {
			return fmt.Errorf("input: glob %q: %w", arg, err)
		}
	}
	prefix := strings.Join(elems[:lit], "/")
	if prefix != "" {
		prefix += "/"
	}
	list, err := s.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("input: argument %q: %w", arg, err)
	}
	for _, a := range list {
		if !matchElems(elems[lit:], strings.Split(strings.TrimPrefix(a.Key, prefix), "/")) {
			continue
		}
		e.matched++
		if err := e.object(ctx, s, u, a, arg); err != nil {
			return err
		}
	}
	return nil
}

// matchElems reports whether the key elements match the pattern elements,
// "**" standing for any number of elements. A wildcard does not match an
// element starting with "." or "_" unless its pattern element starts with
// that character, and "**" does not descend into such elements.
func matchElems(pat, key []string) bool {
	if len(pat) == 0 {
		return len(key) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(key); i++ {
			if matchElems(pat[1:], key[i:]) {
				return true
			}
			if i < len(key) && hidden(key[i]) {
				return false
			}
		}
		return false
	}
	if len(key) == 0 {
		return false
	}
	if hidden(key[0]) && key[0][0] != pat[0][0] {
		return false
	}
	if ok, _ := path.Match(pat[0], key[0]); !ok {
		return false
	}
	return matchElems(pat[1:], key[1:])
}

// object adds the object described by a, found through u's bucket s: it
// reads the object's first bytes to sniff its compression, as file does.
func (e *expander) object(ctx context.Context, s objstore.Store, u objstore.URL, a objstore.Attrs, arg string) error {
	url := u.Join(a.Key)
	var head []byte
	if a.Size > 0 {
		r, err := s.NewRangeReader(ctx, a.Key, 0, min(a.Size, headSize))
		if err != nil {
			return fmt.Errorf("input: argument %q: %w", arg, err)
		}
		head, err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("input: argument %q: read %s: %w", arg, url, err)
		}
	}
	c, err := decideCompression(url, head)
	if err != nil {
		return fmt.Errorf("input: argument %q: %w", arg, err)
	}
	e.counted()
	e.found = append(e.found, found{
		File: File{Path: url, Size: a.Size, Compression: c, Format: FormatOf(url), ModTime: a.ModTime, Version: a.Version},
		key:  fileKey{path: url},
	})
	return nil
}

// openObject opens the object of s for reading from offset off to its
// end, and checks that it is still the object planned.
func openObject(s Split, off int64) (io.ReadCloser, error) {
	ctx := context.Background()
	st, u, err := objstore.Open(ctx, s.File.Path)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	r, err := st.NewRangeReader(ctx, u.Key, off, -1)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	if err := s.File.objectChanged(r.Attrs()); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// objectChanged compares the attributes of the object being read with
// what Expand recorded.
func (f File) objectChanged(a objstore.Attrs) error {
	if f.ModTime.IsZero() {
		return nil // not recorded: a File made by hand
	}
	var what []string
	if a.Size != f.Size {
		what = append(what, fmt.Sprintf("size %d → %d", f.Size, a.Size))
	}
	if f.Version != "" && a.Version != "" && a.Version != f.Version {
		what = append(what, fmt.Sprintf("version %s → %s", f.Version, a.Version))
	}
	if what == nil {
		return nil
	}
	// An object is written whole, never appended to in place: what
	// differs stays so.
	return &ChangedError{Path: f.Path, Change: strings.Join(what, ", "), settled: true}
}
