package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// answer is a system's output reduced to a form that every system of a
// workload shares: Digest equal means the same answer. Count is the size of
// the answer (distinct words, records, matches), which is all that systems
// such as `grep -c` produce.
type answer struct {
	Digest  string
	Count   int64
	Summary string
	// Values, when set, are numbers per key that two systems may compute
	// in a different order of floating-point additions (PageRank's ranks):
	// answers with Values are the same when their keys are and every
	// value is within a relative valueTolerance.
	Values map[string]float64
}

// valueTolerance is the relative difference allowed between two systems'
// Values: far above the 1e-15 that a different order of additions makes,
// far below any real difference in a rank.
const valueTolerance = 1e-9

// same reports whether a and ref are the same answer.
func (a answer) same(ref *answer) bool {
	if a.Values == nil || ref.Values == nil {
		return a.Digest == ref.Digest
	}
	if len(a.Values) != len(ref.Values) {
		return false
	}
	for k, v := range ref.Values {
		w, ok := a.Values[k]
		if !ok || math.Abs(w-v) > valueTolerance*math.Abs(v) {
			return false
		}
	}
	return true
}

// rankAnswer reads "node<TAB>rank" lines. Its summary gives the node count,
// the rank total and the top node.
func rankAnswer(files []string) (answer, error) {
	values := map[string]float64{}
	var total, best float64
	var top string
	err := eachLine(files, func(line []byte) error {
		node, rank, ok := bytes.Cut(line, []byte{'\t'})
		r, err := strconv.ParseFloat(string(rank), 64)
		if !ok || err != nil {
			return fmt.Errorf("not a node<TAB>rank line: %q", truncate(line))
		}
		if _, dup := values[string(node)]; dup {
			return fmt.Errorf("node %s ranked twice", node)
		}
		values[string(node)] = r
		total += r
		if r > best {
			best, top = r, string(node)
		}
		return nil
	})
	if err != nil {
		return answer{}, err
	}
	return answer{Values: values, Count: int64(len(values)),
		Summary: fmt.Sprintf("%d nodes, ranks sum to %.6g, top node %s (%.6g)", len(values), total, top, best)}, nil
}

// outputFiles returns the files a system wrote: Quern's part files in
// partition order, or the one file a baseline wrote.
func outputFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return partFiles(path)
	}
	return []string{path}, nil
}

// eachLine calls fn with every line of files in order, without its line
// end ("\n" or "\r\n"). The slice is valid only during the call.
func eachLine(files []string, fn func(line []byte) error) error {
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		n := 0
		for sc.Scan() {
			n++
			if err := fn(bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})); err != nil {
				f.Close()
				return fmt.Errorf("%s:%d: %w", name, n, err)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	return nil
}

// digestLines hashes a set of lines independently of their order.
func digestLines(lines []string) string {
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// wordCountAnswer reads (word, count) lines with parse and normalises them
// to sorted "word<TAB>count" lines. Empty words (a pipeline's blank line)
// are dropped; a word listed twice is kept twice, so that it mismatches.
func wordCountAnswer(parse func(line []byte) (word, count []byte, ok bool)) func([]string) (answer, error) {
	return func(files []string) (answer, error) {
		var lines []string
		var total int64
		err := eachLine(files, func(line []byte) error {
			w, c, ok := parse(line)
			if !ok {
				return fmt.Errorf("not a word count line: %q", truncate(line))
			}
			n, err := strconv.ParseInt(string(c), 10, 64)
			if err != nil {
				return fmt.Errorf("bad count in %q: %w", truncate(line), err)
			}
			if len(w) > 0 {
				total += n
				lines = append(lines, string(w)+"\t"+strconv.FormatInt(n, 10))
			}
			return nil
		})
		if err != nil {
			return answer{}, err
		}
		return answer{
			Digest:  digestLines(lines),
			Count:   int64(len(lines)),
			Summary: fmt.Sprintf("%d distinct words, %d in all", len(lines), total),
		}, nil
	}
}

// topAnswer reads a top-k list of "word<TAB>count" lines, in their order
// (largest count first, equal counts by word): the order is part of the
// answer.
func topAnswer(files []string) (answer, error) {
	h := sha256.New()
	var n int64
	first := ""
	err := eachLine(files, func(line []byte) error {
		w, c, ok := tabCount(line)
		if _, err := strconv.ParseInt(string(c), 10, 64); !ok || err != nil {
			return fmt.Errorf("not a word<TAB>count line: %q", truncate(line))
		}
		if n == 0 {
			first = string(w) + " " + string(c)
		}
		n++
		h.Write(line)
		h.Write([]byte{'\n'})
		return nil
	})
	if err != nil {
		return answer{}, err
	}
	return answer{Digest: fmt.Sprintf("%x", h.Sum(nil)), Count: n, Summary: fmt.Sprintf("top %d words, first %q", n, first)}, nil
}

// tabCount parses "word<TAB>count".
func tabCount(line []byte) (word, count []byte, ok bool) {
	i := bytes.LastIndexByte(line, '\t')
	if i < 0 {
		return nil, nil, false
	}
	return line[:i], line[i+1:], true
}

// uniqCount parses `uniq -c` output: "   count word".
func uniqCount(line []byte) (word, count []byte, ok bool) {
	line = bytes.TrimLeft(line, " ")
	count, word, _ = bytes.Cut(line, []byte{' '})
	return word, count, len(count) > 0
}

// gensortKeyLen is the length of a gensort record's sort key.
const gensortKeyLen = 10

// hashSeed is fixed for the process, so every system's records hash alike.
var hashSeed = maphash.MakeSeed()

// sortedAnswer checks that records are in key order across the files, and
// digests them as a multiset: systems may order records with equal keys
// differently, and the sum and xor of per-record hashes do not depend on
// that order.
func sortedAnswer(files []string) (answer, error) {
	var prev []byte
	var n int64
	var sum, xor uint64
	err := eachLine(files, func(line []byte) error {
		key := line[:min(len(line), gensortKeyLen)]
		if n > 0 && bytes.Compare(key, prev) < 0 {
			return fmt.Errorf("record %d out of order: key %q after %q", n+1, key, prev)
		}
		prev = append(prev[:0], key...)
		h := maphash.Bytes(hashSeed, line)
		sum += h
		xor ^= h
		n++
		return nil
	})
	if err != nil {
		return answer{}, err
	}
	return answer{
		Digest:  fmt.Sprintf("%d:%x:%x", n, sum, xor),
		Count:   n,
		Summary: fmt.Sprintf("%d records in key order", n),
	}, nil
}

// grepAnswer normalises matches to sorted "offset<TAB>line" lines, where
// offset is the byte offset of the matching line in the input.
func grepAnswer(parse func(line []byte) (offset int64, text []byte, err error)) func([]string) (answer, error) {
	return func(files []string) (answer, error) {
		var lines []string
		err := eachLine(files, func(line []byte) error {
			off, text, err := parse(line)
			if err != nil {
				return err
			}
			lines = append(lines, strconv.FormatInt(off, 10)+"\t"+string(text))
			return nil
		})
		if err != nil {
			return answer{}, err
		}
		return answer{Digest: digestLines(lines), Count: int64(len(lines)),
			Summary: fmt.Sprintf("%d matching lines", len(lines))}, nil
	}
}

// parseGrepB parses `grep -b` output: "offset:line".
func parseGrepB(line []byte) (int64, []byte, error) {
	off, text, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return 0, nil, fmt.Errorf("not grep -b output: %q", truncate(line))
	}
	n, err := strconv.ParseInt(string(off), 10, 64)
	return n, text, err
}

// parseQuernGrep parses the grep app's "FILE:OFFSET<TAB>LINE".
func parseQuernGrep(line []byte) (int64, []byte, error) {
	loc, text, ok := bytes.Cut(line, []byte{'\t'})
	i := bytes.LastIndexByte(loc, ':')
	if !ok || i < 0 {
		return 0, nil, fmt.Errorf("not grep app output: %q", truncate(line))
	}
	n, err := strconv.ParseInt(string(loc[i+1:]), 10, 64)
	return n, text, err
}

// grepCountAnswer reads `grep -c` output: one number.
func grepCountAnswer(files []string) (answer, error) {
	data, err := os.ReadFile(files[0])
	if err != nil {
		return answer{}, err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil {
		return answer{}, fmt.Errorf("%s: not a count: %w", files[0], err)
	}
	return answer{Count: n, Summary: fmt.Sprintf("%d matching lines", n)}, nil
}

// indexAnswer normalises "WORD<TAB>N<TAB>DOCS" lines, DOCS a JSON array of
// paths, to sorted lines with the array decoded, so that two JSON spellings
// of one path agree.
func indexAnswer(files []string) (answer, error) {
	var lines []string
	var postings int64
	err := eachLine(files, func(line []byte) error {
		f := bytes.SplitN(line, []byte{'\t'}, 3)
		if len(f) != 3 {
			return fmt.Errorf("not an index line: %q", truncate(line))
		}
		var docs []string
		if err := json.Unmarshal(f[2], &docs); err != nil {
			return fmt.Errorf("documents of %q: %w", f[0], err)
		}
		if n, err := strconv.Atoi(string(f[1])); err != nil || n != len(docs) {
			return fmt.Errorf("%q: count %q for %d documents", f[0], f[1], len(docs))
		}
		postings += int64(len(docs))
		lines = append(lines, string(f[0])+"\t"+strings.Join(docs, "\x00"))
		return nil
	})
	if err != nil {
		return answer{}, err
	}
	return answer{Digest: digestLines(lines), Count: int64(len(lines)),
		Summary: fmt.Sprintf("%d words, %d postings", len(lines), postings)}, nil
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
