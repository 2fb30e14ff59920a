//go:build !inflate_checked

package inflate

import (
	"encoding/binary"
	"unsafe"
)

// The decoding loop's memory accesses, without bounds checks: the loop
// proves its bounds once per step (see huffman). Building with the tag
// inflate_checked swaps in checked ones (checked.go), under which a
// fuzzing run turns any access the proof missed into a panic.

// load64 returns the 8 bytes of b at i, little-endian.
func load64(b []byte, i int) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i))[:])
}

// store64 writes v little-endian to the 8 bytes of b at i.
func store64(b []byte, i int, v uint64) {
	binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i))[:], v)
}

func loadByte(b []byte, i int) byte {
	return *(*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i))
}

func storeByte(b []byte, i int, v byte) {
	*(*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i)) = v
}
