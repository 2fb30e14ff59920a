package gen

import "io"

// Text writes English-like text to w: words drawn from a Zipf distribution
// (exponent 1) over a fixed vocabulary of 50,100 words — the 100 most
// common English words at the head, then 50,000 invented words built from
// syllables — in sentences of 4 to 19 words that start with a capital letter
// and end in '.', '?' or '!', with occasional commas. Lines are about 60-80
// bytes and end in '\n'; about one sentence end in ten also ends the
// paragraph, marked by a blank line.
//
// Output is ASCII. It stops at the first line end at or after size bytes, so
// it overshoots size by less than one line (under 100 bytes). The last line
// may end mid-sentence. Returns the number of bytes written.
func Text(w io.Writer, size int64, seed uint64) (int64, error) {
	if err := checkSize("text", size); err != nil {
		return 0, err
	}
	v := textVocab()
	r := newRNG(seed, streamText)
	s := newSink(w, "text")
	sentLeft := 0 // words left in the current sentence; 0 = start a new one
	// Commas come from a reservoir of random bits, 4 per word, so the
	// hot loop costs one PCG draw per word, for the Zipf sample.
	var bits uint64
	nbits := 0
	for s.total() < size {
		lineStart := len(s.buf)
		target := 56 + int(r.intn(20))
		paragraph := false
		for {
			if len(s.buf) > lineStart {
				s.buf = append(s.buf, ' ')
			}
			k := v.zipf.sample(r)
			capital := sentLeft == 0
			if capital {
				sentLeft = 4 + int(r.intn(16))
			}
			s.buf = v.appendWord(s.buf, k, capital)
			sentLeft--
			if sentLeft == 0 {
				// One draw decides the sentence mark and the paragraph
				// break: bits 0-4 the mark, bits 8-15 the break.
				x := r.next()
				switch x & 31 {
				case 0:
					s.buf = append(s.buf, '!')
				case 1, 2:
					s.buf = append(s.buf, '?')
				default:
					s.buf = append(s.buf, '.')
				}
				if (x>>8)&255 < 26 {
					paragraph = true
					break
				}
			} else {
				if nbits == 0 {
					bits, nbits = r.next(), 16
				}
				if bits&15 == 0 {
					s.buf = append(s.buf, ',')
				}
				bits >>= 4
				nbits--
			}
			if len(s.buf)-lineStart >= target {
				break
			}
		}
		s.buf = append(s.buf, '\n')
		if paragraph && s.total() < size {
			s.buf = append(s.buf, '\n')
		}
		if !s.endRecord() {
			break
		}
	}
	return s.finish()
}
