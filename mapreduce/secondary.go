package mapreduce

import (
	"bytes"
	"cmp"
)

// Secondary sort.
//
// A job with SortValues shuffles on a composite key: the encoded key,
// escaped, a terminator, then the encoded sort field of the value:
//
//	escape(key) 0x00 0x01 sortField
//
// escape doubles every 0x00 of the key into 0x00 0xFF. The terminator
// 0x00 0x01 sorts below any escaped byte that can follow a key's end, so
// composite keys sort by key first (bytes.Compare order of the encoded keys,
// as without a secondary sort) and by the sort field within a key. Reducers
// group by the part before the terminator, so Reduce is still called once
// per key, and partitioners see only the encoded key, so a key's values all
// reach one reducer.

// ValueOrder returns a SortValues function that orders values by a field:
//
//	SortValues: mapreduce.ValueOrder(func(v Visit) int64 { return v.Time })
func ValueOrder[V any, S cmp.Ordered](field func(V) S) func(dst []byte, v V) []byte {
	c := KeyCodecFor[S]()
	return func(dst []byte, v V) []byte { return c.Append(dst, field(v)) }
}

// appendEscaped appends key with every 0x00 turned into 0x00 0xFF, then the
// terminator 0x00 0x01.
func appendEscaped(dst, key []byte) []byte {
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 {
			break
		}
		dst = append(dst, key[:i+1]...)
		dst = append(dst, 0xFF)
		key = key[i+1:]
	}
	dst = append(dst, key...)
	return append(dst, 0x00, 0x01)
}

// groupPrefix returns the escaped key and terminator at the start of a
// composite key: the part that decides which group a record belongs to.
func groupPrefix(composite []byte) []byte {
	for i := 0; i+1 < len(composite); i++ {
		if composite[i] != 0 {
			continue
		}
		if composite[i+1] == 0x01 {
			return composite[:i+2]
		}
		i++ // skip the 0xFF of an escaped 0x00
	}
	return composite // not composite: a corrupt key groups alone
}

// unescape appends the original key of a group prefix to dst.
func unescape(dst, prefix []byte) []byte {
	prefix = bytes.TrimSuffix(prefix, []byte{0x00, 0x01})
	for {
		i := bytes.IndexByte(prefix, 0)
		if i < 0 || i+1 >= len(prefix) {
			break
		}
		dst = append(dst, prefix[:i+1]...)
		prefix = prefix[i+2:]
	}
	return append(dst, prefix...)
}
