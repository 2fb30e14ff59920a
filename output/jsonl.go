package output

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/quern-dev/quern/internal/jsontext"
	"github.com/quern-dev/quern/internal/textbytes"
)

// ErrNotJSON is returned when a value has no JSON form (NaN, ±Inf, a
// channel, a func).
var ErrNotJSON = errors.New("output: value has no JSON form")

// jsonAppender returns a function that appends the JSON form of a T. The
// common scalar types have hand-written encoders that do not allocate;
// everything else (including named types, which may have MarshalJSON) goes
// through encoding/json. []byte is base64, as encoding/json writes it, so
// that json.Unmarshal reads it back, unless text says it is text: then it is
// a string, as a string is, with invalid UTF-8 escaped (textbytes).
func jsonAppender[T any](text bool) func([]byte, T) ([]byte, error) {
	var f any
	switch any(*new(T)).(type) {
	case string:
		f = func(dst []byte, v string) ([]byte, error) { return appendJSONText(dst, v), nil }
	case []byte:
		if text {
			f = func(dst []byte, v []byte) ([]byte, error) {
				if v == nil {
					return append(dst, "null"...), nil
				}
				return appendJSONText(dst, v), nil
			}
			break
		}
		f = func(dst []byte, v []byte) ([]byte, error) {
			if v == nil {
				return append(dst, "null"...), nil
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, v)
			return append(dst, '"'), nil
		}
	case int:
		f = func(dst []byte, v int) ([]byte, error) { return strconv.AppendInt(dst, int64(v), 10), nil }
	case int64:
		f = func(dst []byte, v int64) ([]byte, error) { return strconv.AppendInt(dst, v, 10), nil }
	case int32:
		f = func(dst []byte, v int32) ([]byte, error) { return strconv.AppendInt(dst, int64(v), 10), nil }
	case uint64:
		f = func(dst []byte, v uint64) ([]byte, error) { return strconv.AppendUint(dst, v, 10), nil }
	case uint32:
		f = func(dst []byte, v uint32) ([]byte, error) { return strconv.AppendUint(dst, uint64(v), 10), nil }
	case uint:
		f = func(dst []byte, v uint) ([]byte, error) { return strconv.AppendUint(dst, uint64(v), 10), nil }
	case float64:
		f = func(dst []byte, v float64) ([]byte, error) { return appendJSONFloat(dst, v, 64) }
	case float32:
		f = func(dst []byte, v float32) ([]byte, error) { return appendJSONFloat(dst, float64(v), 32) }
	case bool:
		f = func(dst []byte, v bool) ([]byte, error) { return strconv.AppendBool(dst, v), nil }
	}
	if direct, ok := f.(func([]byte, T) ([]byte, error)); ok {
		return direct
	}
	if isFlat[T]() {
		// The fields of a flattened struct are members of the line's
		// object: its JSON without the braces.
		return func(dst []byte, v T) ([]byte, error) {
			b, err := json.Marshal(v)
			if err != nil {
				return dst, fmt.Errorf("%w: %w", ErrNotJSON, err)
			}
			return append(dst, b[1:len(b)-1]...), nil
		}
	}
	return func(dst []byte, v T) ([]byte, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("%w: %w", ErrNotJSON, err)
		}
		return append(dst, b...), nil
	}
}

// appendJSONText appends text as a JSON string, escaping invalid UTF-8
// reversibly first (jsontext alone would lose it to U+FFFD).
func appendJSONText[S ~string | ~[]byte](dst []byte, s S) []byte {
	if textbytes.Valid(s) {
		return jsontext.AppendString(dst, s)
	}
	return jsontext.AppendString(dst, textbytes.Append(nil, s))
}

// appendJSONFloat writes f as encoding/json does: plain decimal in the
// middle range, exponent form outside it, with "e-07" shortened to "e-7".
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%w: %v", ErrNotJSON, f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		b := dst[start:]
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst, nil
}

// jsonlWriter writes one object per line: {"key":K,"value":V}, or the
// fields of a flattened struct key or value in place of "key":K or
// "value":V.
type jsonlWriter[K, V any] struct {
	s        *sink
	key      func([]byte, K) ([]byte, error)
	value    func([]byte, V) ([]byte, error)
	keyPre   []byte // `"key":`, empty for a flattened key
	valuePre []byte // `"value":`, empty for a flattened value
	noKey    bool
	noValue  bool
	count    int64
	err      error
}

func newJSONLWriter[K, V any](s *sink, opts Options) (*jsonlWriter[K, V], error) {
	w := &jsonlWriter[K, V]{
		s: s, key: jsonAppender[K](opts.TextBytes), value: jsonAppender[V](opts.TextBytes),
		noKey: isNone[K](), noValue: isNone[V](),
	}
	if !isFlat[K]() {
		w.keyPre = append(jsontext.AppendString(nil, opts.keyName()), ':')
	}
	switch {
	case isRow[V](opts):
		w.value = rowJSON[V](opts.ValueColumns)
	case !isFlat[V]():
		w.valuePre = append(jsontext.AppendString(nil, opts.valueName()), ':')
	}
	return w, nil
}

func (w *jsonlWriter[K, V]) Write(k K, v V) error {
	if w.err != nil {
		return w.err
	}
	// Formatted in the file buffer's free space, as textWriter does; a
	// line that fails to encode is never passed to Write, so nothing of
	// it reaches the file.
	line := append(w.s.w.AvailableBuffer(), '{')
	var err error
	if !w.noKey {
		line = append(line, w.keyPre...)
		if line, err = w.key(line, k); err != nil {
			return fmt.Errorf("write output %s, record %d, key: %w", w.s.path, w.count, err)
		}
	}
	if !w.noValue {
		if line[len(line)-1] != '{' {
			line = append(line, ',')
		}
		mark := len(line)
		line = append(line, w.valuePre...)
		if line, err = w.value(line, v); err != nil {
			return fmt.Errorf("write output %s, record %d, value: %w", w.s.path, w.count, err)
		}
		if len(line) == mark && line[mark-1] == ',' {
			line = line[:mark-1] // a flattened value without fields
		}
	}
	line = append(line, '}', '\n')
	if _, err := w.s.w.Write(line); err != nil {
		w.err = writeErr(w.s.path, fmt.Sprintf("record %d", w.count), err)
		return w.err
	}
	w.count++
	return nil
}

func (w *jsonlWriter[K, V]) Records() int64 { return w.count }
func (w *jsonlWriter[K, V]) Bytes() int64   { return w.s.n }
func (w *jsonlWriter[K, V]) Abort()         { w.s.abort() }

func (w *jsonlWriter[K, V]) Close() error {
	if w.err != nil {
		return w.err
	}
	return w.s.close()
}
