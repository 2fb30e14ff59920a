package gen

import (
	"strings"
	"sync"
)

// commonWords are the 100 most frequent English words, most frequent first.
// They take the head ranks of the text vocabulary, so the top of a word
// count over generated text looks like one over real English.
var commonWords = strings.Fields(`the be to of and a in that have I
it for not on with he as you do at this but his by from they we say her she
or an will my one all would there their what so up out if about who get which
go me when make can like time no just him know take people into year your good
some could them see other than then now look only come its over think also
back after use two how our work first well way even new want because any these
give day most us`)

// Syllable parts for the invented words. Onsets and codas repeat "" so that
// open syllables and vowel-initial words are common, as in English.
var (
	onsets = []string{"", "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s",
		"t", "v", "w", "y", "z", "br", "cr", "dr", "fl", "gr", "pl", "pr", "st", "tr", "ch", "sh", "th", "sp", "qu"}
	nuclei = []string{"a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou", "io", "ee", "y"}
	codas  = []string{"", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "x", "rt"}
)

const (
	// syllableWords is the number of invented words after commonWords.
	syllableWords = 50000
	// vocabSeed fixes the invented words: the vocabulary is the same for
	// every seed, only the sampling differs, so two corpora share words.
	vocabSeed = 0x766f636162
	// textZipfS is the Zipf exponent of word ranks; English is close to 1.
	textZipfS = 1.0
)

// maxWordLen bounds invented words so that each fits a wordSlot.
const maxWordLen = 15

// wordSlot holds one word, zero-padded, with its length in the last byte.
// Copying a whole slot is two 8-byte moves, where appending a short slice
// is a call to memmove; BenchmarkGenerate/text went from 161 to 320 MB/s.
type wordSlot [16]byte

// vocabulary is the text word list in rank order. The words are stored
// twice: in slots for the hot loops (appendWord) and in an arena addressed
// by off for everything else.
type vocabulary struct {
	slots []wordSlot
	lower []byte
	off   []uint32
	zipf  *zipfTable
}

// appendWord appends word i, capitalising its first letter when capital is
// set.
func (v *vocabulary) appendWord(dst []byte, i uint32, capital bool) []byte {
	slot := &v.slots[i]
	n := len(dst)
	if cap(dst)-n < len(slot) {
		dst = append(dst, slot[:slot[15]]...)
	} else {
		dst = dst[:n+len(slot)]
		*(*wordSlot)(dst[n:]) = *slot
		dst = dst[:n+int(slot[15])]
	}
	if capital && 'a' <= dst[n] && dst[n] <= 'z' {
		dst[n] -= 'a' - 'A'
	}
	return dst
}

func (v *vocabulary) n() int { return len(v.off) - 1 }

func (v *vocabulary) word(i uint32) []byte { return v.lower[v.off[i]:v.off[i+1]] }

var textVocab = sync.OnceValue(buildVocab)

func buildVocab() *vocabulary {
	v := &vocabulary{off: make([]uint32, 0, len(commonWords)+syllableWords+1)}
	seen := make(map[string]struct{}, len(commonWords)+syllableWords)
	add := func(w string) {
		seen[w] = struct{}{}
		v.off = append(v.off, uint32(len(v.lower)))
		v.lower = append(v.lower, w...)
	}
	for _, w := range commonWords {
		add(w)
	}
	seen["i"] = struct{}{} // keep "I" unique once folded to lower case
	r := newRNG(vocabSeed, 0)
	var b []byte
	for len(v.off) < len(commonWords)+syllableWords {
		rank := len(v.off)
		// Frequent words are short: 1-2 syllables near the head, up to 3
		// in the long tail, for a mean token length near English's.
		var syl int
		switch {
		case rank < 1000:
			syl = 1 + int(r.intn(2))
		case rank < 10000:
			syl = 1 + int(r.intn(3))
		default:
			syl = 2 + int(r.intn(2))
		}
		b = b[:0]
		for range syl {
			b = append(b, onsets[r.intn(uint32(len(onsets)))]...)
			b = append(b, nuclei[r.intn(uint32(len(nuclei)))]...)
			b = append(b, codas[r.intn(uint32(len(codas)))]...)
		}
		if _, dup := seen[string(b)]; dup || len(b) > maxWordLen {
			continue
		}
		add(string(b))
	}
	v.off = append(v.off, uint32(len(v.lower)))
	v.slots = make([]wordSlot, v.n())
	for i := range v.slots {
		w := v.word(uint32(i))
		copy(v.slots[i][:], w)
		v.slots[i][15] = byte(len(w))
	}
	v.zipf = newZipfTable(v.n(), textZipfS)
	return v
}
