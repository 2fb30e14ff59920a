package output

import (
	"bufio"
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/quern-dev/quern/internal/textbytes"
)

// Reader reads back the typed records of a file written by a Writer.
//
// The loop runs on Next and checks Err afterwards:
//
//	for k, v, ok := r.Next(); ok; k, v, ok = r.Next() { … }
//	if err := r.Err(); err != nil { … }
//
// Returned keys and values do not share memory with the reader; they stay
// valid after later calls.
type Reader[K, V any] interface {
	// Next returns the next record, or ok == false at the end of the file
	// or on the first error.
	Next() (k K, v V, ok bool)
	// Err returns the first error met, nil at a clean end.
	Err() error
	// Close releases the file.
	Close() error
}

// ErrNotParsable is returned by Open when a text column's type cannot be
// parsed back from its text form (a fmt.Stringer without UnmarshalText).
var ErrNotParsable = errors.New("output: type cannot be parsed back from text")

// Open opens a file written by a Writer[K, V] with the same opts. The
// compression of text and JSONL files is recognised by magic bytes, so
// opts.Compression need not match.
func Open[K, V any](path string, opts Options) (Reader[K, V], error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open output %s: %w", path, err)
	}
	var r Reader[K, V]
	var err error
	switch opts.Format {
	case Text:
		r, err = openText[K, V](path)
	case JSONL:
		r, err = openJSONL[K, V](path, opts)
	case Parquet:
		r, err = openColumnar[K, V](path, opts, openParquetSource)
	case Arrow:
		r, err = openColumnar[K, V](path, opts, openArrowSource)
	}
	if err != nil {
		return nil, fmt.Errorf("open output %s: %w", path, err)
	}
	return r, nil
}

var (
	gzipMagic    = []byte{0x1f, 0x8b}
	zstdMagic    = []byte{0x28, 0xb5, 0x2f, 0xfd}
	parquetMagic = []byte("PAR1")
	arrowMagic   = []byte("ARROW1")
)

// lineSource is a text file opened for reading lines, decompressed when its
// first bytes say gzip or zstd.
type lineSource struct {
	path  string
	f     *os.File
	zr    *zstd.Decoder
	br    *bufio.Reader
	buf   []byte // a line longer than br's buffer is assembled here
	lines int64
}

func openLines(path string) (*lineSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &lineSource{path: path, f: f}
	br := bufio.NewReaderSize(f, bufferSize)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		s.br = bufio.NewReaderSize(gz, bufferSize)
	case bytes.HasPrefix(head, zstdMagic):
		s.zr, err = zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("zstd header: %w", err)
		}
		s.br = bufio.NewReaderSize(s.zr, bufferSize)
	default:
		s.br = br
	}
	return s, nil
}

// next returns the next line without its newline, valid until the next
// call; io.EOF at the end.
func (s *lineSource) next() ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.buf = append(s.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = s.br.ReadSlice('\n')
			s.buf = append(s.buf, line...)
		}
		line = s.buf
	}
	if err == io.EOF && len(line) > 0 {
		err = nil // a last line without a newline
	}
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("%s, line %d: %w", s.path, s.lines+1, err)
		}
		return nil, err
	}
	s.lines++
	return bytes.TrimSuffix(line, []byte{'\n'}), nil
}

func (s *lineSource) close() error {
	if s.zr != nil {
		s.zr.Close()
	}
	return s.f.Close()
}

// textParser returns the inverse of textFormatter[T], chosen once.
func textParser[T any]() (func([]byte) (T, error), error) {
	var f any
	switch any(*new(T)).(type) {
	case none:
		f = func([]byte) (none, error) { return none{}, nil }
	case string:
		f = func(b []byte) (string, error) { return string(b), nil }
	case []byte:
		f = func(b []byte) ([]byte, error) { return bytes.Clone(b), nil }
	case int64:
		f = func(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) }
	case int:
		f = func(b []byte) (int, error) { n, err := strconv.ParseInt(string(b), 10, 0); return int(n), err }
	case float64:
		f = func(b []byte) (float64, error) { return strconv.ParseFloat(string(b), 64) }
	case time.Time:
		// time.Time is a Stringer; parse what String printed, less the
		// monotonic clock reading.
		f = func(b []byte) (time.Time, error) {
			s, _, _ := strings.Cut(string(b), " m=")
			return time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", s)
		}
	}
	if direct, ok := f.(func([]byte) (T, error)); ok {
		return direct, nil
	}
	t := reflect.TypeFor[T]()
	if t.Implements(reflect.TypeFor[fmt.Stringer]()) {
		if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			return func(b []byte) (T, error) {
				var v T
				err := any(&v).(encoding.TextUnmarshaler).UnmarshalText(b)
				return v, err
			}, nil
		}
		return nil, fmt.Errorf("%w: %s is written by its String method", ErrNotParsable, t)
	}
	var set func(v reflect.Value, s string) error
	switch t.Kind() {
	case reflect.String:
		set = func(v reflect.Value, s string) error { v.SetString(s); return nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		set = func(v reflect.Value, s string) error {
			n, err := strconv.ParseInt(s, 10, t.Bits())
			v.SetInt(n)
			return err
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		set = func(v reflect.Value, s string) error {
			n, err := strconv.ParseUint(s, 10, t.Bits())
			v.SetUint(n)
			return err
		}
	case reflect.Float32, reflect.Float64:
		set = func(v reflect.Value, s string) error {
			n, err := strconv.ParseFloat(s, t.Bits())
			v.SetFloat(n)
			return err
		}
	case reflect.Bool:
		set = func(v reflect.Value, s string) error {
			b, err := strconv.ParseBool(s)
			v.SetBool(b)
			return err
		}
	}
	if set != nil {
		return func(b []byte) (T, error) {
			var v T
			err := set(reflect.ValueOf(&v).Elem(), string(b))
			return v, err
		}, nil
	}
	return func(b []byte) (T, error) {
		var v T
		err := json.Unmarshal(b, &v)
		return v, err
	}, nil
}

// mayHoldTab reports whether the text form of T can contain a tab: raw
// strings, byte slices and Stringers can, numbers, bools and JSON cannot.
func mayHoldTab[T any]() bool {
	t := reflect.TypeFor[T]()
	if t.Implements(reflect.TypeFor[fmt.Stringer]()) {
		return true
	}
	return t.Kind() == reflect.String || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// textReader parses lines "key\tvalue". A line is split at its last tab
// when the value's text cannot hold a tab (wordcount's counts), else at its
// first, so a tab inside a string key or value is read back whenever the
// other side cannot hold one.
type textReader[K, V any] struct {
	src       *lineSource
	key       func([]byte) (K, error)
	value     func([]byte) (V, error)
	noKey     bool
	noValue   bool
	splitLast bool
	err       error
}

func openText[K, V any](path string) (*textReader[K, V], error) {
	pk, err := textParser[K]()
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	pv, err := textParser[V]()
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	src, err := openLines(path)
	if err != nil {
		return nil, err
	}
	return &textReader[K, V]{
		src: src, key: pk, value: pv, noKey: isNone[K](), noValue: isNone[V](),
		splitLast: !mayHoldTab[V](),
	}, nil
}

func (r *textReader[K, V]) Next() (k K, v V, ok bool) {
	if r.err != nil {
		return k, v, false
	}
	line, err := r.src.next()
	if err != nil {
		if err != io.EOF {
			r.err = err
		}
		return k, v, false
	}
	kb, vb := line, line
	if !r.noKey && !r.noValue {
		i := -1
		if r.splitLast {
			i = bytes.LastIndexByte(line, '\t')
		} else {
			i = bytes.IndexByte(line, '\t')
		}
		if i < 0 {
			r.err = fmt.Errorf("%s, line %d: no tab between key and value", r.src.path, r.src.lines)
			return k, v, false
		}
		kb, vb = line[:i], line[i+1:]
	}
	if !r.noKey {
		if k, err = r.key(kb); err != nil {
			r.err = fmt.Errorf("%s, line %d, key: %w", r.src.path, r.src.lines, err)
			return k, v, false
		}
	}
	if !r.noValue {
		if v, err = r.value(vb); err != nil {
			r.err = fmt.Errorf("%s, line %d, value: %w", r.src.path, r.src.lines, err)
			return k, v, false
		}
	}
	return k, v, true
}

func (r *textReader[K, V]) Err() error   { return r.err }
func (r *textReader[K, V]) Close() error { return r.src.close() }

// jsonlReader reads the objects a jsonlWriter wrote.
type jsonlReader[K, V any] struct {
	src       *lineSource
	keyName   string
	valueName string
	key       func(line []byte, fields map[string]json.RawMessage) (K, error)
	value     func(line []byte, fields map[string]json.RawMessage) (V, error)
	fields    map[string]json.RawMessage
	err       error
}

func openJSONL[K, V any](path string, opts Options) (*jsonlReader[K, V], error) {
	src, err := openLines(path)
	if err != nil {
		return nil, err
	}
	r := &jsonlReader[K, V]{
		src: src, keyName: opts.keyName(), valueName: opts.valueName(),
		key:    jsonMember[K](opts.keyName(), opts.TextBytes),
		value:  jsonMember[V](opts.valueName(), opts.TextBytes),
		fields: map[string]json.RawMessage{},
	}
	if isRow[V](opts) {
		r.value = rowJSONMember[V](opts.ValueColumns)
	}
	return r, nil
}

// jsonMember returns the reader of a T from a JSONL line: the member name
// of the line's object, or the whole object for a flattened struct. Strings,
// and []byte when text is set, have textbytes' escapes undone.
func jsonMember[T any](name string, text bool) func([]byte, map[string]json.RawMessage) (T, error) {
	var decode any
	switch any(*new(T)).(type) {
	case none:
		return func([]byte, map[string]json.RawMessage) (T, error) { var v T; return v, nil }
	case string:
		decode = func(raw []byte) (string, error) {
			var s string
			err := json.Unmarshal(raw, &s)
			return unescapeString(s), err
		}
	case []byte:
		if text {
			decode = func(raw []byte) ([]byte, error) {
				var s *string
				if err := json.Unmarshal(raw, &s); err != nil || s == nil {
					return nil, err
				}
				return textbytes.Unescape([]byte{}, *s), nil
			}
		}
	}
	if isFlat[T]() {
		return func(line []byte, _ map[string]json.RawMessage) (T, error) {
			var v T
			err := json.Unmarshal(line, &v)
			return v, err
		}
	}
	d, ok := decode.(func([]byte) (T, error))
	if !ok {
		d = func(raw []byte) (T, error) {
			var v T
			err := json.Unmarshal(raw, &v)
			return v, err
		}
	}
	return func(_ []byte, fields map[string]json.RawMessage) (T, error) {
		raw, ok := fields[name]
		if !ok {
			var v T
			return v, fmt.Errorf("field %q: missing", name)
		}
		v, err := d(raw)
		if err != nil {
			return v, fmt.Errorf("field %q: %w", name, err)
		}
		return v, nil
	}
}

func (r *jsonlReader[K, V]) Next() (k K, v V, ok bool) {
	if r.err != nil {
		return k, v, false
	}
	line, err := r.src.next()
	if err != nil {
		if err != io.EOF {
			r.err = err
		}
		return k, v, false
	}
	clear(r.fields)
	if err := json.Unmarshal(line, &r.fields); err != nil {
		r.err = fmt.Errorf("%s, line %d: %w", r.src.path, r.src.lines, err)
		return k, v, false
	}
	if k, err = r.key(line, r.fields); err != nil {
		r.err = fmt.Errorf("%s, line %d, key: %w", r.src.path, r.src.lines, err)
		return k, v, false
	}
	if v, err = r.value(line, r.fields); err != nil {
		r.err = fmt.Errorf("%s, line %d, value: %w", r.src.path, r.src.lines, err)
		return k, v, false
	}
	return k, v, true
}

func (r *jsonlReader[K, V]) Err() error   { return r.err }
func (r *jsonlReader[K, V]) Close() error { return r.src.close() }
