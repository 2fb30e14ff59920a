package input

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/quern-dev/quern/internal/jsontext"
)

// rowRenderer turns one row of a record batch into a Record: each field
// as text, and the row as a JSON object. It reuses its buffers, so a row
// costs no allocation for the common column types.
type rowRenderer struct {
	cols []column
	rec  Record
	text []byte   // the fields' text, back to back
	ends []int    // end of each field in text
	fset [][]byte // reused for rec.Fields
	json []byte   // rec.Value
}

// column is what rendering needs of one column, decided once per file.
type column struct {
	key []byte         // `{"name":` or `,"name":`
	loc *time.Location // timestamps: the zone to show them in
}

// init prepares for rows of schema.
func (r *rowRenderer) init(schema *arrow.Schema) error {
	fields := schema.Fields()
	r.cols = make([]column, len(fields))
	r.rec.Columns = make([]string, len(fields))
	for i, f := range fields {
		r.rec.Columns[i] = f.Name
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		key := jsontext.AppendString([]byte{sep}, f.Name)
		r.cols[i].key = append(key, ':')
		r.cols[i].loc = time.UTC
		if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.TimeZone != "" {
			loc, err := ts.GetZone()
			if err != nil {
				return fmt.Errorf("column %q: %w", f.Name, err)
			}
			if loc != nil {
				r.cols[i].loc = loc
			}
		}
	}
	return nil
}

// render fills rec with row of b.
func (r *rowRenderer) render(b arrow.RecordBatch, row int) {
	r.text, r.ends, r.json = r.text[:0], r.ends[:0], r.json[:0]
	for i := range r.cols {
		r.json = append(r.json, r.cols[i].key...)
		r.text, r.json = appendCell(r.text, r.json, b.Column(i), row, &r.cols[i])
		r.ends = append(r.ends, len(r.text))
	}
	if len(r.cols) == 0 {
		r.json = append(r.json, '{')
	}
	r.json = append(r.json, '}')
	r.fset = r.fset[:0]
	start := 0
	for _, end := range r.ends {
		r.fset = append(r.fset, r.text[start:end:end])
		start = end
	}
	r.rec.Fields, r.rec.Value = r.fset, r.json
}

// appendCell appends cell i of arr as text to text and as JSON to js.
func appendCell(text, js []byte, arr arrow.Array, i int, c *column) ([]byte, []byte) {
	if arr.IsNull(i) {
		return text, append(js, "null"...)
	}
	switch a := arr.(type) {
	case *array.Boolean:
		v := a.Value(i)
		return strconv.AppendBool(text, v), strconv.AppendBool(js, v)
	case *array.Int8:
		return appendInt(text, js, int64(a.Value(i)))
	case *array.Int16:
		return appendInt(text, js, int64(a.Value(i)))
	case *array.Int32:
		return appendInt(text, js, int64(a.Value(i)))
	case *array.Int64:
		return appendInt(text, js, a.Value(i))
	case *array.Uint8:
		return appendUint(text, js, uint64(a.Value(i)))
	case *array.Uint16:
		return appendUint(text, js, uint64(a.Value(i)))
	case *array.Uint32:
		return appendUint(text, js, uint64(a.Value(i)))
	case *array.Uint64:
		return appendUint(text, js, a.Value(i))
	case *array.Float32:
		return appendFloat(text, js, float64(a.Value(i)), 32)
	case *array.Float64:
		return appendFloat(text, js, a.Value(i), 64)
	case *array.String:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.LargeString:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.StringView:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.Binary:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.LargeBinary:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.BinaryView:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.FixedSizeBinary:
		v := a.Value(i)
		return append(text, v...), jsontext.AppendString(js, v)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		t := a.Value(i).ToTime(unit).In(c.loc)
		n := len(text)
		text = t.AppendFormat(text, time.RFC3339Nano)
		js = append(js, '"')
		js = append(js, text[n:]...)
		return text, append(js, '"')
	case *array.Date32:
		return appendDate(text, js, a.Value(i).ToTime())
	case *array.Date64:
		return appendDate(text, js, a.Value(i).ToTime())
	case *array.Decimal128:
		// Decimal text is a valid JSON number.
		n := len(text)
		text = appendDecimal128(text, a.Value(i), a.DataType().(*arrow.Decimal128Type).Scale)
		return text, append(js, text[n:]...)
	case *array.Decimal256:
		s := a.Value(i).ToString(a.DataType().(*arrow.Decimal256Type).Scale)
		return append(text, s...), append(js, s...)
	default:
		// Nested, dictionary and rarer types: Arrow's own rendering, which
		// allocates but is right.
		text = append(text, arr.ValueStr(i)...)
		v, err := json.Marshal(arr.GetOneForMarshal(i))
		if err != nil {
			return text, jsontext.AppendString(js, arr.ValueStr(i))
		}
		return text, append(js, v...)
	}
}

func appendInt(text, js []byte, v int64) ([]byte, []byte) {
	n := len(text)
	text = strconv.AppendInt(text, v, 10)
	return text, append(js, text[n:]...)
}

func appendUint(text, js []byte, v uint64) ([]byte, []byte) {
	n := len(text)
	text = strconv.AppendUint(text, v, 10)
	return text, append(js, text[n:]...)
}

// appendFloat writes v in strconv's shortest form. JSON has no NaN or
// infinities, so those become the strings "NaN", "+Inf" and "-Inf".
func appendFloat(text, js []byte, v float64, bits int) ([]byte, []byte) {
	n := len(text)
	text = strconv.AppendFloat(text, v, 'g', -1, bits)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		js = append(js, '"')
		js = append(js, text[n:]...)
		return text, append(js, '"')
	}
	return text, append(js, text[n:]...)
}

func appendDate(text, js []byte, t time.Time) ([]byte, []byte) {
	n := len(text)
	text = t.UTC().AppendFormat(text, time.DateOnly)
	js = append(js, '"')
	js = append(js, text[n:]...)
	return text, append(js, '"')
}

// appendDecimal128 appends v/10^scale in plain decimal notation, as
// decimal128.Num.ToString does, without its allocations when v fits in an
// int64 (which covers precision up to 18).
func appendDecimal128(dst []byte, v decimal128.Num, scale int32) []byte {
	hi, lo := v.HighBits(), v.LowBits()
	fits := (hi == 0 && lo <= math.MaxInt64) || (hi == -1 && lo > math.MaxInt64)
	if !fits || scale < 0 || scale > 18 {
		return append(dst, v.ToString(scale)...)
	}
	n := int64(lo)
	u := uint64(n)
	if n < 0 {
		dst = append(dst, '-')
		u = uint64(^n) + 1
	}
	var buf [20]byte
	d := strconv.AppendUint(buf[:0], u, 10)
	s := int(scale)
	switch {
	case s == 0:
		return append(dst, d...)
	case len(d) <= s:
		dst = append(dst, '0', '.')
		for range s - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	default:
		dst = append(dst, d[:len(d)-s]...)
		dst = append(dst, '.')
		return append(dst, d[len(d)-s:]...)
	}
}
