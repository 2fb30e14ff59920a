package gen

import (
	"fmt"
	"io"
)

// GensortRecordSize is the length of one gensort record, line end included.
const GensortRecordSize = 100

// Gensort writes records 100-byte records in the ASCII format of the sort
// benchmark's gensort (gensort -a), and returns records*100, the number of
// bytes written. The layout of record number n (counting from 0) is
//
//	offset  size  content
//	     0    10  key: printable ASCII ' '..'~', uniformly random
//	    10     2  "  "
//	    12    32  n as 32 upper-case hex digits (a 128-bit number)
//	    44     2  "  "
//	    46    52  filler: 13 hex digits, each repeated 4 times
//	    98     2  "\r\n"
//
// for example record 1 of seed 1 (key "2#/*|~L7S-"):
//
//	2#/*|~L7S-  00000000000000000000000000000001  6666AAAA7777111188887777555533338888CCCCFFFF66661111\r\n
//
// The key and filler come from one 128-bit random number per record, as in
// gensort: key bytes 0-7 from the high 64 bits by repeated division by 95,
// bytes 8-9 from the low 64 bits, filler from bits 48..0 of the low 64 bits.
// The random numbers come from PCG, not gensort's own generator, so the
// records are format-compatible with gensort/valsort but not byte-identical
// to gensort's output for any seed. Keys contain spaces; sort on the first 10
// bytes of each record, not on the first word.
func Gensort(w io.Writer, records int64, seed uint64) (int64, error) {
	if records < 0 {
		return 0, fmt.Errorf("gen: gensort: records %d: %w", records, ErrNegativeSize)
	}
	r := newRNG(seed, streamGensort)
	s := newSink(w, "gensort")
	for n := range records {
		s.buf = appendGensortRecord(s.buf, r.next(), r.next(), uint64(n))
		if !s.endRecord() {
			break
		}
	}
	return s.finish()
}

const hexDigits = "0123456789ABCDEF"

func appendGensortRecord(dst []byte, hi, lo, n uint64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, GensortRecordSize)...) // no allocation: constant size
	rec := dst[start : start+GensortRecordSize : start+GensortRecordSize]
	t := hi
	for i := range 8 {
		rec[i] = byte(' ' + t%95)
		t /= 95
	}
	t = lo
	rec[8] = byte(' ' + t%95)
	t /= 95
	rec[9] = byte(' ' + t%95)
	rec[10], rec[11] = ' ', ' '
	// The record number is 128 bits in gensort; ours fits in the low 64.
	for i := 12; i < 28; i++ {
		rec[i] = '0'
	}
	for i := range 16 {
		rec[28+i] = hexDigits[(n>>(60-4*i))&0xF]
	}
	rec[44], rec[45] = ' ', ' '
	for i := range 13 {
		d := hexDigits[(lo>>(48-4*i))&0xF]
		rec[46+4*i], rec[47+4*i], rec[48+4*i], rec[49+4*i] = d, d, d, d
	}
	rec[98], rec[99] = '\r', '\n'
	return dst
}
