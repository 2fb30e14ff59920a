package inflate

import (
	"errors"
	"math/bits"
)

// An entry is one slot of a decoding table. A table is indexed by the next
// tableBits bits of the stream; DEFLATE sends a code's first bit first into
// the lowest free bit, so a code sits in the table bit-reversed, and a code
// shorter than tableBits fills every slot whose low bits it is.
//
//	bits 0-5    the bits of the stream this entry takes: its code's
//	            and, for a length or an offset, the extra bits after it;
//	            for a subtable pointer, bits 0-3 are the main table's
//	            index bits and bits 4-7 the subtable's
//	bit  8      literal: value is the byte
//	bit  9      subtable: value is the subtable's first slot; take this
//	            entry's bits, then look up the next extra bits there
//	bit  10     end of block
//	bit  11     bad: no code of this table starts with these bits
//	bits 12-15  the bits of the code alone, where the extra bits start
//	bits 16-31  value: a literal byte, a length or offset base, a precode
//	            symbol, or a subtable's first slot
//
// A length or offset entry sets none of bits 8-11, so the hot loop tests
// one bit for a literal and one mask for anything unusual. Holding the
// code's and its extra bits' sum lets the loop drop both with one shift
// (libdeflate's layout): the next code's lookup waits on that shift alone,
// while the length or offset is computed from the bits before it.
type entry uint32

const (
	literalFlag  entry = 1 << 8
	subtableFlag entry = 1 << 9
	endFlag      entry = 1 << 10
	badFlag      entry = 1 << 11
	unusual            = subtableFlag | endFlag | badFlag
)

func (e entry) codeBits() uint  { return uint(e>>12) & 15 }
func (e entry) extraBits() uint { return uint(e>>4) & 15 } // a subtable pointer's
func (e entry) value() uint32   { return uint32(e >> 16) }

// A symbol's entry holds its value and its extra bits (bits 4-7, for
// build; the table's entries hold them as in the layout above).
func valueEntry(value uint32, extra uint) entry { return entry(value<<16) | entry(extra<<4) }

// withCode is the table entry of symbol sym's code of l bits.
func withCode(sym entry, l uint) entry {
	extra := uint(sym>>4) & 15
	return sym&^0xff | entry(l+extra) | entry(l)<<12
}

// Table sizes. A main table of 2^11 slots decodes every literal/length
// code up to 11 bits in one lookup (libdeflate's choice: gzip -6 on text
// rarely makes longer ones, and 8 KiB stays in L1); longer codes go
// through one subtable of 2^(maxLen-11) slots per 11-bit prefix. At most
// 288 codes are longer than 11 bits, each prefix's subtable has at most
// 2^4 slots, so 288<<4 slots bound the subtables; offsets likewise with
// 30 codes and subtables of up to 2^7 slots.
const (
	litlenBits    = 11
	offsetBits    = 8
	precodeBits   = 7
	maxCodeBits   = 15
	litlenSlots   = 1<<litlenBits + 288<<(maxCodeBits-litlenBits)
	offsetSlots   = 1<<offsetBits + 30<<(maxCodeBits-offsetBits)
	precodeSlots  = 1 << precodeBits
	numLitlenSyms = 288
	numOffsetSyms = 32
)

// The symbols of each alphabet, as entries without their code bits.
var (
	litlenSyms  [numLitlenSyms]entry
	offsetSyms  [numOffsetSyms]entry
	precodeSyms [19]entry
)

func init() {
	lengthBase := [29]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra := [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	offsetBase := [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	for s := range 256 {
		litlenSyms[s] = literalFlag | entry(s)<<16
	}
	litlenSyms[256] = endFlag
	for s := range 29 {
		litlenSyms[257+s] = valueEntry(lengthBase[s], lengthExtra[s])
	}
	litlenSyms[286], litlenSyms[287] = badFlag, badFlag // codes the fixed code has, meaning nothing
	offsetExtra := [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	for s := range 30 {
		offsetSyms[s] = valueEntry(offsetBase[s], offsetExtra[s])
	}
	offsetSyms[30], offsetSyms[31] = badFlag, badFlag
	for s := range precodeSyms {
		precodeSyms[s] = entry(s) << 16
	}

	var lengths [numLitlenSyms + numOffsetSyms]uint8
	for s := range numLitlenSyms {
		switch {
		case s < 144:
			lengths[s] = 8
		case s < 256:
			lengths[s] = 9
		case s < 280:
			lengths[s] = 7
		default:
			lengths[s] = 8
		}
	}
	for s := range numOffsetSyms {
		lengths[numLitlenSyms+s] = 5
	}
	if err := build(fixedLitlen[:], litlenBits, lengths[:numLitlenSyms], litlenSyms[:]); err != nil {
		panic(err)
	}
	if err := build(fixedOffset[:], offsetBits, lengths[numLitlenSyms:], offsetSyms[:]); err != nil {
		panic(err)
	}
}

// The tables of the fixed codes (block type 1), built once.
var (
	fixedLitlen [litlenSlots]entry
	fixedOffset [offsetSlots]entry
)

var (
	errOversubscribed = errors.New("a Huffman code has more codes of some length than fit")
	errIncomplete     = errors.New("a Huffman code leaves codes unused")
)

// build fills table with the decoding table of the canonical Huffman code
// whose code lengths are lengths (RFC 1951 section 3.2.2), symbol s
// decoding to syms[s]. The first 1<<tableBits slots are the main table;
// subtables follow. A code that over-subscribes is refused, and so is an
// incomplete one, except a code of a single 1-bit code (which a DEFLATE
// encoder writes for a block with one distance) or of none at all: those
// leave slots bad, and the stream fails if it uses one. These are the
// rules of Go's compress/flate, so both refuse the same streams.
func build(table []entry, tableBits uint, lengths []uint8, syms []entry) error {
	var count [maxCodeBits + 1]int
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	maxLen := uint(0)
	left := 1
	for l := 1; l <= maxCodeBits; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return errOversubscribed
		}
		if count[l] > 0 {
			maxLen = uint(l)
		}
	}
	if left > 0 && maxLen > 1 {
		return errIncomplete
	}
	mainSlots := 1 << tableBits
	for i := range table[:mainSlots] {
		table[i] = badFlag
	}
	if maxLen == 0 {
		return nil
	}

	// next[l] is the next code of length l, counting canonically.
	var next [maxCodeBits + 1]uint32
	code := uint32(0)
	for l := 1; l <= maxCodeBits; l++ {
		code = (code + uint32(count[l-1])) << 1
		next[l] = code
	}
	subBits := uint(0)
	if maxLen > tableBits {
		subBits = maxLen - tableBits
	}
	free := mainSlots // the first slot after the subtables made so far
	for s, l8 := range lengths {
		l := uint(l8)
		if l == 0 {
			continue
		}
		reversed := int(bits.Reverse32(next[l]) >> (32 - l))
		next[l]++
		if l <= tableBits {
			e := withCode(syms[s], l)
			for i := reversed; i < mainSlots; i += 1 << l {
				table[i] = e
			}
			continue
		}
		// A long code: its first tableBits bits choose the subtable, the
		// rest its slots there.
		prefix := reversed & (mainSlots - 1)
		if table[prefix]&subtableFlag == 0 {
			table[prefix] = subtableFlag | entry(free)<<16 | entry(subBits<<4) | entry(tableBits)
			for i := range table[free : free+1<<subBits] {
				table[free+i] = badFlag
			}
			free += 1 << subBits
		}
		start := int(table[prefix].value())
		e := withCode(syms[s], l-tableBits)
		for i := reversed >> tableBits; i < 1<<subBits; i += 1 << (l - tableBits) {
			table[start+i] = e
		}
	}
	return nil
}
