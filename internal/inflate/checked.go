//go:build inflate_checked

package inflate

import "encoding/binary"

// Bounds-checked versions of unchecked.go's accesses, for tests and
// fuzzing: go test -tags inflate_checked -fuzz FuzzReader ./internal/inflate

func load64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }

func store64(b []byte, i int, v uint64) { binary.LittleEndian.PutUint64(b[i:i+8], v) }

func loadByte(b []byte, i int) byte { return b[i] }

func storeByte(b []byte, i int, v byte) { b[i] = v }
