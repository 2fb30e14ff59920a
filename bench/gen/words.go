package gen

import "io"

// DistinctWords writes lines of 8 to 12 space-separated words, each word a
// lower-case letters-only encoding of a counter passed through a seeded
// bijection on 40 bits: every word differs from every other until 2^40
// (about 10^12) words, far beyond any disk. Words are at most 9 letters:
// about 81% have 9 and 15% have 8 (mean about 9.8 bytes with the separator).
//
// This is the memory stress test for a word count: the number of distinct
// keys grows with the input. It stops at the first line end at or after size
// bytes. Returns the number of bytes written.
func DistinctWords(w io.Writer, size int64, seed uint64) (int64, error) {
	if err := checkSize("words", size); err != nil {
		return 0, err
	}
	r := newRNG(seed, streamWords)
	p := newWordPerm(seed)
	s := newSink(w, "words")
	var counter uint64
	for s.total() < size {
		n := 8 + r.intn(5)
		for i := range n {
			if i > 0 {
				s.buf = append(s.buf, ' ')
			}
			s.buf = appendLetters(s.buf, p.apply(counter))
			counter++
		}
		s.buf = append(s.buf, '\n')
		if !s.endRecord() {
			break
		}
	}
	return s.finish()
}

const wordBits = 40
const wordMask = 1<<wordBits - 1

// wordPerm is a seeded permutation of [0, 2^40): xor-shifts, odd
// multiplications and key additions, each invertible modulo 2^40. It turns
// a counter into scattered but never repeating numbers.
type wordPerm struct{ k0, k1, k2 uint64 }

func newWordPerm(seed uint64) wordPerm {
	return wordPerm{
		k0: mix64(seed^0x776f726473) & wordMask,
		k1: mix64(seed+0x9e3779b97f4a7c15) & wordMask,
		k2: mix64(seed*0x2545f4914f6cdd1d+1) & wordMask,
	}
}

func (p wordPerm) apply(x uint64) uint64 {
	x = (x + p.k0) & wordMask
	x ^= x >> 21
	x = (x * 0xd6e8feb86659fd93) & wordMask
	x ^= p.k1
	x ^= x >> 19
	x = (x * 0x9e3779b97f4a7c15) & wordMask
	x = (x + p.k2) & wordMask
	x ^= x >> 20
	return x
}

// appendLetters appends x in base 26 with digits 'a'..'z', most significant
// first and without leading 'a's, so distinct numbers give distinct words.
func appendLetters(dst []byte, x uint64) []byte {
	var tmp [14]byte // 26^14 > 2^64
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('a' + x%26)
		x /= 26
		if x == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}
