// Package bytesize prints byte counts for people to read.
package bytesize

import "fmt"

// Approx prints n bytes to a tenth of its binary unit ("3.0 GiB",
// "64.0 KiB", "512 B"), for messages and summaries; a size a flag reads
// back exactly is printed by mapreduce.FormatSize instead.
func Approx(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
