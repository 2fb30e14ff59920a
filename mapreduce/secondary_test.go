package mapreduce

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

func TestCompositeKeysSortByKeyThenField(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		bytesGen := rapid.SliceOfN(rapid.SampledFrom([]byte{0x00, 0x01, 0xFF, 'a'}), 0, 6)
		k1, k2 := bytesGen.Draw(t, "k1"), bytesGen.Draw(t, "k2")
		s1, s2 := bytesGen.Draw(t, "s1"), bytesGen.Draw(t, "s2")
		c1 := append(appendEscaped(nil, k1), s1...)
		c2 := append(appendEscaped(nil, k2), s2...)
		want := bytes.Compare(k1, k2)
		if want == 0 {
			want = bytes.Compare(s1, s2)
		}
		if got := bytes.Compare(c1, c2); got != want {
			t.Fatalf("composite order %d, want %d for keys %x/%x fields %x/%x", got, want, k1, k2, s1, s2)
		}
		p1 := groupPrefix(c1)
		if !bytes.Equal(p1, appendEscaped(nil, k1)) {
			t.Fatalf("group prefix %x of %x, want %x", p1, c1, appendEscaped(nil, k1))
		}
		if back := unescape(nil, p1); !bytes.Equal(back, k1) {
			t.Fatalf("unescape gave %x, want %x", back, k1)
		}
	})
}
