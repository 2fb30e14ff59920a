package streaming

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// These end-to-end tests need no program but the test binary, so they run
// on every system, Windows included, where the examples' Python and
// Node.js may be missing: re-executed by a task with programEnv set and
// one argument, the test binary plays a word count's mapper ("map") or
// reducer ("reduce") and exits (playProgram, called by TestMain).
const programEnv = "QUERN_STREAMING_TEST_PROGRAM"

// stopWords is the file the mapper reads from its working folder: the
// test ships it (Commands.Files), as a user ships a dictionary.
const stopWords = "stopwords.txt"

// playProgram plays a Streaming program and exits when the test binary
// was started as one; otherwise it returns.
func playProgram() {
	if os.Getenv(programEnv) == "" || len(os.Args) != 2 {
		return
	}
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	var err error
	switch os.Args[1] {
	case "map":
		err = countWords(in, out)
	case "reduce":
		err = sumCounts(in, out)
	default:
		err = fmt.Errorf("no program %q", os.Args[1])
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// countWords writes "word<TAB>1" for each blank-separated word of its
// input that is not in the stop-word file, and counts its lines on stderr
// with Hadoop Streaming's counter protocol.
func countWords(in *bufio.Reader, out *bufio.Writer) error {
	data, err := os.ReadFile(stopWords)
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, w := range strings.Fields(string(data)) {
		skip[w] = true
	}
	lines := 0
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		lines++
		for _, w := range strings.Fields(sc.Text()) {
			if !skip[w] {
				fmt.Fprintf(out, "%s\t1\n", w)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "reporter:counter:Test,lines,%d\n", lines)
	return sc.Err()
}

// sumCounts sums the counts of each key of its "key<TAB>count" input, and
// fails if the keys are not grouped in ascending byte order, as a reducer
// (and a combiner) is promised.
func sumCounts(in *bufio.Reader, out *bufio.Writer) error {
	var key []byte
	var sum int64
	flush := func() {
		if key != nil {
			fmt.Fprintf(out, "%s\t%d\n", key, sum)
		}
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte("\t"))
		n, err := strconv.ParseInt(string(v), 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("not key<TAB>count: %q", sc.Text())
		}
		switch c := bytes.Compare(k, key); {
		case key != nil && c < 0:
			return fmt.Errorf("key %q after %q: input not sorted", k, key)
		case key == nil || c > 0:
			flush()
			key, sum = append(key[:0:0], k...), 0
		}
		sum += n
	}
	flush()
	return sc.Err()
}

// TestTestBinaryAsPrograms runs a word count whose mapper, combiner and
// reducer are the test binary, through every step a Streaming job takes
// on the local engine: workers start the programs (on Windows under
// cmd /C), ship a file into their working folders, feed them over pipes,
// read their counters from stderr, and sort and merge what they write.
func TestTestBinaryAsPrograms(t *testing.T) {
	t.Setenv(programEnv, "1") // the workers inherit it, and their programs
	in, byFile := words(t, 5, 200)
	stop := filepath.Join(t.TempDir(), stopWords)
	require.NoError(t, os.WriteFile(stop, []byte("the\nx\n"), 0o644))
	want := wordCounts(byFile)
	delete(want, "the")
	delete(want, "x")
	lines := 0
	for f := range byFile {
		data, err := os.ReadFile(filepath.Join(in, f))
		require.NoError(t, err)
		lines += bytes.Count(data, []byte("\n"))
	}

	self := os.Args[0]
	cfg := config(t, in)
	res, err := Run(context.Background(), Commands{
		Mapper: self + " map", Combiner: self + " reduce", Reducer: self + " reduce",
		Files: []string{stop},
	}, cfg)
	require.NoError(t, err)
	require.Equal(t, want, readOutput(t, res, output.Options{}))
	require.Greater(t, res.MapTasks, 1)
	require.Equal(t, int64(lines), res.Counters["Test.lines"])
	require.Less(t, res.Counters["combine_output_records"], res.Counters["combine_input_records"],
		"the combiner ran and summed")
}

// words writes files of random lines over a small vocabulary, and returns
// their paths and every file's words.
func words(t *testing.T, files, lines int) (string, map[string][]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.Mkdir(dir, 0o755))
	vocab := []string{"the", "quern", "grinds", "grain", "Stone", "mill", "wheat", "flour", "x", "to-be", "it's"}
	r := rand.New(rand.NewPCG(1, 2))
	byFile := map[string][]string{}
	for f := range files {
		name := fmt.Sprintf("doc%02d.txt", f)
		var b strings.Builder
		for range lines {
			n := r.IntN(8)
			for i := range n {
				if i > 0 {
					b.WriteString([]string{" ", "  ", "\t"}[r.IntN(3)])
				}
				w := vocab[r.IntN(len(vocab))]
				if r.IntN(50) == 0 {
					w = fmt.Sprintf("rare%d", r.IntN(1000))
				}
				b.WriteString(w)
				byFile[name] = append(byFile[name], w)
			}
			b.WriteByte('\n')
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644))
	}
	return dir, byFile
}

// config is a small local job's configuration.
func config(t *testing.T, in string) mapreduce.Config {
	return mapreduce.Config{
		Engine: mapreduce.EngineLocal, Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"),
		Workers: 2, Reducers: 2, SplitSize: 8 << 10, TmpDir: t.TempDir(),
	}
}

// readOutput reads every part of a text output as key -> value.
func readOutput(t *testing.T, res *mapreduce.Result, opts output.Options) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, part := range res.Parts {
		r, err := output.Open[string, string](part, opts)
		require.NoError(t, err)
		for k, v, ok := r.Next(); ok; k, v, ok = r.Next() {
			_, dup := got[k]
			require.False(t, dup, "key %q in two parts or twice", k)
			got[k] = v
		}
		require.NoError(t, r.Err())
		require.NoError(t, r.Close())
	}
	return got
}

// wordCounts counts the words of words' files, as a word count's output
// has them.
func wordCounts(byFile map[string][]string) map[string]string {
	counts := map[string]int{}
	for _, ws := range byFile {
		for _, w := range ws {
			counts[w]++
		}
	}
	want := map[string]string{}
	for w, n := range counts {
		want[w] = strconv.Itoa(n)
	}
	return want
}
