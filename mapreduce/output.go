package mapreduce

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
)

// None is an output key or value type that prints as nothing: a job whose
// reduce emits (None{}, line) writes just the line, with no tab.
type None = struct{}

// textFormatter returns a function that appends the text form of a T:
// strings and byte slices as they are, numbers in decimal, fmt.Stringers by
// String, None as nothing, and anything else as JSON. The choice is made once
// per job, not per record.
func textFormatter[T any]() func([]byte, T) []byte {
	var f any
	switch any(*new(T)).(type) {
	case None:
		f = func(dst []byte, _ None) []byte { return dst }
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

// isNone reports whether T is None, whose column a text line leaves out.
func isNone[T any]() bool { return reflect.TypeFor[T]() == reflect.TypeFor[None]() }

// textWriter writes reduce output as lines "key<TAB>value\n" to one part
// file. A None key or value is left out together with its tab.
type textWriter struct {
	f     *os.File
	w     *bufio.Writer
	buf   []byte
	n     int64
	path  string
	count int64
}

func createTextWriter(path string) (*textWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output %s: %w", path, err)
	}
	return &textWriter{f: f, w: bufio.NewWriterSize(f, 256<<10), path: path}, nil
}

// writeLine writes line plus a newline; line may be reused by the caller.
func (t *textWriter) writeLine(line []byte) error {
	line = append(line, '\n')
	n, err := t.w.Write(line)
	t.n += int64(n)
	t.count++
	if err != nil {
		return fmt.Errorf("write output %s: %w", t.path, err)
	}
	return nil
}

// close flushes and syncs the file, so that a committed part is on disk
// before the rename that commits it.
func (t *textWriter) close() error {
	err := t.w.Flush()
	if err == nil {
		err = t.f.Sync()
	}
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close output %s: %w", t.path, err)
	}
	return nil
}

func (t *textWriter) abort() {
	t.f.Close()
	os.Remove(t.path)
}
