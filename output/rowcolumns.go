package output

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// A row value is a value of a slice-of-string type (join's Joined) written
// with Options.ValueColumns: element i is the text column named
// ValueColumns[i] rather than element i of one list column, so that a job
// whose rows take their shape from its input (the columns of a CSV header)
// still has named columns. A row shorter than the names leaves the rest
// null (a left join's unmatched row); a longer one is an error, since its
// extra fields would have no column. Text output is unchanged.

// isRow reports whether T is written as a row value under opts.
func isRow[T any](opts Options) bool {
	t := reflect.TypeFor[T]()
	return len(opts.ValueColumns) > 0 && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String
}

// rowLen returns the length of row v and, through at, its elements.
func rowLen[T any](v T) (int, func(i int) string) {
	rv := reflect.ValueOf(v)
	return rv.Len(), func(i int) string { return rv.Index(i).String() }
}

func tooLong(n int, names []string) error {
	return fmt.Errorf("output: a row of %d fields, but the output has %d columns (%v)", n, len(names), names)
}

// rowColumn is the column of a row value.
func rowColumn[T any](names []string) column[T] {
	c := column[T]{}
	for _, n := range names {
		c.fields = append(c.fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	c.put = func(bs []array.Builder, v T) error {
		n, at := rowLen(v)
		if n > len(bs) {
			return tooLong(n, names)
		}
		for i, b := range bs {
			if i >= n {
				b.AppendNull()
				continue
			}
			if err := (stringEnc{}).putString(b, at(i)); err != nil {
				return err
			}
		}
		return nil
	}
	c.get = func(cols []arrow.Array, i int) (T, error) {
		var v T
		n := len(cols)
		for n > 0 && cols[n-1].IsNull(i) {
			n-- // trailing nulls: the row was shorter
		}
		rv := reflect.MakeSlice(reflect.TypeFor[T](), n, n)
		for j := range n {
			s, ok := cols[j].(*array.String)
			if !ok {
				return v, typeMismatch(cols[j], reflect.TypeFor[string]())
			}
			rv.Index(j).SetString(unescapeString(s.Value(i)))
		}
		reflect.ValueOf(&v).Elem().Set(rv)
		return v, nil
	}
	return c
}

// rowJSON returns the appender of a row value's JSON members:
// "name":"field", one per name, null past the row's end.
func rowJSON[T any](names []string) func([]byte, T) ([]byte, error) {
	pres := make([][]byte, len(names))
	for i, n := range names {
		pres[i] = append(appendJSONText(nil, n), ':')
	}
	return func(dst []byte, v T) ([]byte, error) {
		n, at := rowLen(v)
		if n > len(names) {
			return dst, tooLong(n, names)
		}
		for i, pre := range pres {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, pre...)
			if i >= n {
				dst = append(dst, "null"...)
			} else {
				dst = appendJSONText(dst, at(i))
			}
		}
		return dst, nil
	}
}

// rowJSONMember reads a row value back from a JSONL line's members.
func rowJSONMember[T any](names []string) func([]byte, map[string]json.RawMessage) (T, error) {
	return func(_ []byte, fields map[string]json.RawMessage) (T, error) {
		var v T
		row := make([]*string, len(names))
		for i, name := range names {
			raw, ok := fields[name]
			if !ok {
				return v, fmt.Errorf("field %q: missing", name)
			}
			if err := json.Unmarshal(raw, &row[i]); err != nil {
				return v, fmt.Errorf("field %q: %w", name, err)
			}
		}
		n := len(row)
		for n > 0 && row[n-1] == nil {
			n--
		}
		rv := reflect.MakeSlice(reflect.TypeFor[T](), n, n)
		for i := range n {
			if row[i] != nil {
				rv.Index(i).SetString(unescapeString(*row[i]))
			}
		}
		reflect.ValueOf(&v).Elem().Set(rv)
		return v, nil
	}
}
