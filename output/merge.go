package output

import (
	"errors"
	"fmt"
)

// Merge k-way merges files written by Writers with the same Options, each
// sorted by key according to cmp, into dst. Records with equal keys keep the
// order of parts, then their order within a part. On error dst is removed.
//
// Memory is one record per part plus the writer's batch, whatever the size
// of the parts.
func Merge[K, V any](dst string, parts []string, opts Options, cmp func(a, b K) int) (err error) {
	readers := make([]Reader[K, V], 0, len(parts))
	defer func() {
		for _, r := range readers {
			if cerr := r.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("merge into %s: %w", dst, cerr)
			}
		}
	}()
	h := &mergeHeap[K, V]{cmp: cmp, items: make([]mergeItem[K, V], 0, len(parts))}
	for i, p := range parts {
		r, err := Open[K, V](p, opts)
		if err != nil {
			return fmt.Errorf("merge into %s: %w", dst, err)
		}
		readers = append(readers, r)
		if k, v, ok := r.Next(); ok {
			h.items = append(h.items, mergeItem[K, V]{k: k, v: v, src: i})
		} else if err := r.Err(); err != nil {
			return fmt.Errorf("merge into %s: %w", dst, err)
		}
	}
	h.init()

	w, err := Create[K, V](dst, opts)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	for len(h.items) > 0 {
		top := &h.items[0]
		if err := w.Write(top.k, top.v); err != nil {
			w.Abort()
			return fmt.Errorf("merge: %w", err)
		}
		r := readers[top.src]
		if k, v, ok := r.Next(); ok {
			if cmp(k, top.k) < 0 {
				w.Abort()
				return fmt.Errorf("merge into %s: %w: %s", dst, ErrUnsorted, parts[top.src])
			}
			top.k, top.v = k, v
			h.down(0)
			continue
		}
		if err := r.Err(); err != nil {
			w.Abort()
			return fmt.Errorf("merge into %s: %w", dst, err)
		}
		h.popTop()
	}
	if err := w.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

// ErrUnsorted is returned by Merge when a part is not sorted by key.
var ErrUnsorted = errors.New("output: merge input not sorted by key")
