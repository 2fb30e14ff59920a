package bytesize

import "testing"

func TestApprox(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1 << 10: "1.0 KiB", 65536: "64.0 KiB", 1536 << 10: "1.5 MiB",
		50 << 20: "50.0 MiB", 3 << 30: "3.0 GiB", 3022 << 20: "3.0 GiB",
	} {
		if got := Approx(n); got != want {
			t.Errorf("Approx(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFormatParsesBack: Format prints in the largest unit that divides the
// size, and Parse reads it back.
func TestFormatParsesBack(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 100: "100B", 1 << 10: "1KiB", 1536 << 10: "1536KiB", 64 << 20: "64MiB", 3 << 30: "3GiB",
	} {
		got := Format(n)
		if got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
		if back, err := Parse(got); err != nil || back != n {
			t.Errorf("Parse(Format(%d)) = %d, %v", n, back, err)
		}
	}
}
