package output

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

// none is mapreduce.None: a key or value type that is no column at all.
type none = struct{}

// isNone reports whether T is None, whose column is left out.
func isNone[T any]() bool { return reflect.TypeFor[T]() == reflect.TypeFor[none]() }

// textFormatter returns a function that appends the text form of a T:
// strings and byte slices as they are, numbers in decimal, fmt.Stringers by
// String, None as nothing, and anything else as JSON. The choice is made once
// per writer, not per record.
func textFormatter[T any]() func([]byte, T) []byte {
	var f any
	switch any(*new(T)).(type) {
	case none:
		f = func(dst []byte, _ none) []byte { return dst }
	case string:
		f = func(dst []byte, v string) []byte { return append(dst, v...) }
	case []byte:
		f = func(dst []byte, v []byte) []byte { return append(dst, v...) }
	case int:
		f = func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) }
	case int64:
		f = func(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }
	case int32:
		f = func(dst []byte, v int32) []byte { return strconv.AppendInt(dst, int64(v), 10) }
	case uint64:
		f = func(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }
	case uint32:
		f = func(dst []byte, v uint32) []byte { return strconv.AppendUint(dst, uint64(v), 10) }
	case uint:
		f = func(dst []byte, v uint) []byte { return strconv.AppendUint(dst, uint64(v), 10) }
	case float64:
		f = func(dst []byte, v float64) []byte { return strconv.AppendFloat(dst, v, 'g', -1, 64) }
	case float32:
		f = func(dst []byte, v float32) []byte { return strconv.AppendFloat(dst, float64(v), 'g', -1, 32) }
	case bool:
		f = func(dst []byte, v bool) []byte { return strconv.AppendBool(dst, v) }
	}
	if direct, ok := f.(func([]byte, T) []byte); ok {
		return direct
	}
	t := reflect.TypeFor[T]()
	if t.Implements(reflect.TypeFor[fmt.Stringer]()) {
		return func(dst []byte, v T) []byte { return append(dst, any(v).(fmt.Stringer).String()...) }
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32,
		reflect.Float64, reflect.Bool:
		return func(dst []byte, v T) []byte { return fmt.Append(dst, v) }
	}
	return func(dst []byte, v T) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Append(dst, v)
		}
		return append(dst, b...)
	}
}

// textWriter writes lines "key\tvalue\n". A None key or value is left out
// together with its tab.
type textWriter[K, V any] struct {
	s       *sink
	key     func([]byte, K) []byte
	value   func([]byte, V) []byte
	noKey   bool
	noValue bool
	count   int64
	err     error
}

func newTextWriter[K, V any](s *sink) *textWriter[K, V] {
	return &textWriter[K, V]{
		s: s, key: textFormatter[K](), value: textFormatter[V](),
		noKey: isNone[K](), noValue: isNone[V](),
	}
}

func (t *textWriter[K, V]) Write(k K, v V) error {
	if t.err != nil {
		return t.err
	}
	// Format straight into the file buffer's free space: when the line
	// fits, Write finds it already in place, so a record is copied once.
	line := t.s.w.AvailableBuffer()
	if !t.noKey {
		line = t.key(line, k)
		if !t.noValue {
			line = append(line, '\t')
		}
	}
	if !t.noValue {
		line = t.value(line, v)
	}
	return t.writeLine(line)
}

// WriteKey writes a line that is k alone, with no tab and no value. It is
// how Streaming writes a program's output line that had no tab, so that
// the line comes out as the program wrote it (KeyWriter).
func (t *textWriter[K, V]) WriteKey(k K) error {
	if t.err != nil {
		return t.err
	}
	return t.writeLine(t.key(t.s.w.AvailableBuffer(), k))
}

func (t *textWriter[K, V]) writeLine(line []byte) error {
	line = append(line, '\n')
	if _, err := t.s.w.Write(line); err != nil {
		t.err = writeErr(t.s.path, fmt.Sprintf("record %d", t.count), err)
		return t.err
	}
	t.count++
	return nil
}

func (t *textWriter[K, V]) Records() int64 { return t.count }
func (t *textWriter[K, V]) Bytes() int64   { return t.s.n }
func (t *textWriter[K, V]) Abort()         { t.s.abort() }

func (t *textWriter[K, V]) Close() error {
	if t.err != nil {
		return t.err
	}
	return t.s.close()
}
