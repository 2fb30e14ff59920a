// Package shuffle is the reduce side of a Quern job's shuffle, plus the
// partitioners that decide, on the map side, which reducer gets a key.
//
// A reduce task reads its partition's segment from every map run and merges
// them into one key-ordered stream:
//
//	it, stats, err := shuffle.OpenPartition(segs, shuffle.MergeOptions{TempDir: dir})
//	if err != nil { ... }
//	g := shuffle.NewGrouper(it)
//	defer g.Close()
//	for g.NextGroup() {
//		key := g.Key()
//		for v := range g.Values() { ... }
//	}
//	if err := g.Err(); err != nil { ... }
//
// Keys are compared with bytes.Compare: the key encoding is order preserving,
// so no comparator is needed. Records with equal keys keep the order of their
// inputs (the first input first), so a merge is deterministic.
//
// The iterator stack mirrors Pebble's: a Grouper over a merging iterator
// (NewMerger) over spill segment iterators. No layer copies a record; each
// returns the record of the layer below, valid until its next Next call.
package shuffle
