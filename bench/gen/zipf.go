package gen

import "math"

// zipfTable samples ranks in [0, n) with P(k) ∝ 1/(k+1)^s using Walker's
// alias method: one 64-bit random number and one table probe per draw,
// whatever n. The upper 32 bits pick a column, the lower 32 bits decide
// between the column's own rank and its alias.
//
// BenchmarkZipf compares it with its plain twin (a CDF searched by binary
// search, sampleCDF) and with math/rand's rejection-inversion Zipf; see
// docs/generators.md for the figures.
type zipfTable struct {
	cols []zipfCol
	cdf  []float64 // cumulative probabilities, for sampleCDF only
}

type zipfCol struct {
	threshold uint32 // keep the column's own rank when lower 32 bits < threshold
	alias     uint32
}

// newZipfTable builds the tables for n ranks with exponent s (s may be any
// non-negative value; s = 0 is uniform). n must be in [1, 2^32).
func newZipfTable(n int, s float64) *zipfTable {
	p := make([]float64, n)
	var sum float64
	for k := range p {
		p[k] = math.Pow(float64(k+1), -s)
		sum += p[k]
	}
	cdf := make([]float64, n)
	var acc float64
	for k := range p {
		p[k] /= sum
		acc += p[k]
		cdf[k] = acc
	}
	cdf[n-1] = 1

	// Vose's construction: scale each probability by n; columns below 1
	// ("small") are topped up by an alias from a column above 1 ("large").
	cols := make([]zipfCol, n)
	scaled := make([]float64, n)
	small := make([]uint32, 0, n)
	large := make([]uint32, 0, n)
	for k := range p {
		scaled[k] = p[k] * float64(n)
		if scaled[k] < 1 {
			small = append(small, uint32(k))
		} else {
			large = append(large, uint32(k))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		cols[l] = zipfCol{threshold: probToThreshold(scaled[l]), alias: g}
		scaled[g] -= 1 - scaled[l]
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// Leftovers are 1 up to rounding error: they always keep their own rank.
	for _, k := range large {
		cols[k] = zipfCol{threshold: math.MaxUint32, alias: k}
	}
	for _, k := range small {
		cols[k] = zipfCol{threshold: math.MaxUint32, alias: k}
	}
	return &zipfTable{cols: cols, cdf: cdf}
}

func probToThreshold(p float64) uint32 {
	t := p * (1 << 32)
	if t >= math.MaxUint32 {
		return math.MaxUint32
	}
	if t <= 0 {
		return 0
	}
	return uint32(t)
}

// sample draws one rank.
func (z *zipfTable) sample(r *rng) uint32 {
	x := r.next()
	i := uint32(((x >> 32) * uint64(len(z.cols))) >> 32)
	c := z.cols[i]
	if uint32(x) < c.threshold {
		return i
	}
	return c.alias
}

// sampleCDF is the plain twin of sample: invert the CDF by binary search.
// It is kept to check sample against and to measure it.
func (z *zipfTable) sampleCDF(r *rng) uint32 {
	u := float64(r.next()>>11) * 0x1p-53
	lo, hi := 0, len(z.cdf)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if z.cdf[mid] <= u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return uint32(lo)
}
