// Package topwords is the bundled word count then top-k, as one pipeline:
// `quern run topwords --k 20 -i corpus.txt -o top` writes the K most
// frequent words as "word<TAB>count" lines, largest count first, equal
// counts in ascending (bytewise) word order: what `quern run wordcount`
// then `quern run topk` write, without the word counts ever becoming text.
//
// A word is a maximal run of Unicode letters, as in the wordcount app.
// Stages: split (map over the text, counts summed per word in each map
// task), count (one group per word; its counts never leave the reducer: the
// map that offers each word to the task's top K runs inside it), top (one
// group, the tasks' lists merged). All of the output is written by one
// reducer; the other part files are empty, as topk's.
package topwords

import (
	"iter"
	"strconv"

	"github.com/quern-dev/quern/apps/topk"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// Example generates text and lists its 20 most frequent words.
const Example = "quern gen text --size 64MiB -o corpus.txt\nquern run topwords --k 20 --input corpus.txt --output top"

// Pipeline is the registered topwords pipeline.
var Pipeline = pipeline.Register("topwords",
	"the K most frequent words of text (word count then top-k in one pipeline), largest first, ties by word",
	[]mapreduce.Param{{Name: "k", Default: strconv.Itoa(topk.DefaultK), Usage: "number of words to keep"}},
	func(p *pipeline.Pipeline) {
		pipeline.CheckParams(p, func(param func(string) string) error {
			_, err := topk.ParseK(param("k"))
			return err
		})
		pipeline.WarnCounters(p, map[string]string{wordcount.NonUTF8Bytes: wordcount.NonUTF8Warning})
		words := pipeline.Combine(pipeline.ReadLines(p, "split", split), add)
		counts := pipeline.ReduceByKey(words, "count", sum)
		offers := pipeline.Combine(pipeline.Map(counts, "offer", offer), merge)
		pipeline.Output(pipeline.Reduce(offers, "top", top))
	})

// split emits each word with a count of 1. The word is a view of the
// record's bytes, valid during the emit, which copies what it keeps (the
// combining table copies a word it has not seen): no allocation per word.
// It is a []byte, not a string: the combining table looks a []byte key up
// as it is, without encoding (copying) it first, as wordcount's does.
func split(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func([]byte, int64)) error {
	var nonUTF8 int64
	for w := range wordcount.WordsCounting(rec.Value, &nonUTF8) {
		emit(w, 1)
	}
	if nonUTF8 > 0 {
		tc.Count(wordcount.NonUTF8Bytes, nonUTF8)
	}
	return nil
}

func add(a, b int64) int64 { return a + b }

func sum(_ *mapreduce.TaskContext, _ []byte, counts iter.Seq[int64], emit func(int64)) error {
	var n int64
	for c := range counts {
		n += c
	}
	emit(n)
	return nil
}

// offer makes a word and its count a one-entry list; the combiner merges
// a task's lists into its top K.
func offer(tc *mapreduce.TaskContext, word []byte, n int64, emit func(int8, topk.Top)) error {
	k, err := param(tc)
	if err != nil {
		return err
	}
	emit(0, topk.One(k, word, n))
	return nil
}

func merge(a, b topk.Top) topk.Top {
	a.Merge(&b)
	return a
}

func top(tc *mapreduce.TaskContext, _ int8, lists iter.Seq[topk.Top], emit func(string, int64)) error {
	k, err := param(tc)
	if err != nil {
		return err
	}
	all := topk.NewTop(k)
	for l := range lists {
		all.Merge(&l)
	}
	for _, e := range all.Sorted() {
		emit(string(e.Key), e.Count)
	}
	return nil
}

func param(tc *mapreduce.TaskContext) (int, error) { return topk.ParseK(tc.Param("k")) }
