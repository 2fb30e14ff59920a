package kvtable_test

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/internal/kvtable"
	"github.com/quern-dev/quern/shuffle"
)

// stream is 16 MiB of Zipf-distributed text (bench/gen, seed 1) and the
// [start, end) offsets of its words as wordcount splits them: the key
// stream a word count's combiner sees.
var stream = sync.OnceValues(func() ([]byte, [][2]int32) {
	var buf bytes.Buffer
	if _, err := gen.Text(&buf, 16<<20, 1); err != nil {
		panic(err)
	}
	text := buf.Bytes()
	var words [][2]int32
	for w := range wordcount.Words(text) {
		start := cap(text) - cap(w)
		words = append(words, [2]int32{int32(start), int32(start + len(w))})
	}
	return text, words
})

// benchStream runs pass over the whole stream b.N times. MB/s counts input
// text; ns/word is the cost of one lookup with its share of inserts.
func benchStream(b *testing.B, pass func(text []byte, words [][2]int32)) {
	text, words := stream()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		pass(text, words)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(words)), "ns/word")
}

// BenchmarkTable folds the stream's words the way the combiner does with a
// Table: one probe per word, the count in a slice indexed by slot.
func BenchmarkTable(b *testing.B) {
	tab := kvtable.New(0)
	var counts []int64
	benchStream(b, func(text []byte, words [][2]int32) {
		tab.Reset()
		counts = counts[:0]
		for _, w := range words {
			slot, inserted := tab.FindOrInsert(text[w[0]:w[1]])
			if inserted {
				counts = append(counts, 1)
			} else {
				counts[slot]++
			}
		}
	})
	if tab.Len() != len(counts) || tab.Len() < 1000 {
		b.Fatalf("%d keys, %d counts", tab.Len(), len(counts))
	}
}

// BenchmarkUpsert folds the stream as BenchmarkTable does, with each count
// kept in its key's entry instead of a slice indexed by slot.
func BenchmarkUpsert(b *testing.B) {
	tab := kvtable.New(0)
	benchStream(b, func(text []byte, words [][2]int32) {
		tab.Reset()
		for _, w := range words {
			v, _ := tab.Upsert(text[w[0]:w[1]])
			*v++
		}
	})
	if tab.Len() < 1000 {
		b.Fatalf("%d keys", tab.Len())
	}
}

// BenchmarkGoMap is the combiner before Table: map[string]int32 from the key
// to its slot, looked up with m[string(b)] (no allocation on a hit), plus a
// slice of keys for the flush.
func BenchmarkGoMap(b *testing.B) {
	index := map[string]int32{}
	var keys []string
	var counts []int64
	benchStream(b, func(text []byte, words [][2]int32) {
		clear(index)
		keys, counts = keys[:0], counts[:0]
		for _, w := range words {
			key := text[w[0]:w[1]]
			if slot, ok := index[string(key)]; ok {
				counts[slot]++
				continue
			}
			s := string(key)
			index[s] = int32(len(keys))
			keys = append(keys, s)
			counts = append(counts, 1)
		}
	})
	if len(index) != len(counts) || len(index) < 1000 {
		b.Fatalf("%d keys, %d counts", len(index), len(counts))
	}
}

// BenchmarkUpsertFresh folds the stream as BenchmarkUpsert does into a new
// table each pass, as a worker's first map task does: the index doubles
// from 16 entries to its full size, and its memory is fresh.
func BenchmarkUpsertFresh(b *testing.B) {
	var tab *kvtable.Table
	benchStream(b, func(text []byte, words [][2]int32) {
		tab = kvtable.New(0)
		for _, w := range words {
			v, _ := tab.Upsert(text[w[0]:w[1]])
			*v++
		}
	})
	if tab.Len() < 1000 {
		b.Fatalf("%d keys", tab.Len())
	}
}

// distinctTable is a table of a million distinct keys of 4 to 15 letters,
// each with its slot as its value: what a combiner holds at a flush when
// few of its keys repeat (a word count over many distinct words).
var distinctTable = sync.OnceValue(func() *kvtable.Table {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := kvtable.New(0)
	key := make([]byte, 0, 16)
	for tab.Len() < 1<<20 {
		key = key[:4+rng.IntN(12)]
		for i := range key {
			key[i] = 'a' + byte(rng.IntN(26))
		}
		v, inserted := tab.Upsert(key)
		if inserted {
			*v = uint64(tab.Len() - 1)
		}
	}
	return tab
})

// BenchmarkFlush walks the pairs of distinctTable as a combiner's flush
// does, hashing each key for its partition (figures in All's comment).
func BenchmarkFlush(b *testing.B) {
	tab := distinctTable()
	var sum uint64
	for b.Loop() {
		for key, v := range tab.All() {
			sum += shuffle.Hash64(key) + v
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tab.Len()), "ns/key")
	if sum == 0 {
		b.Fatal("no keys")
	}
}
