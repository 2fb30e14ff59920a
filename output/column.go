package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quern-dev/quern/internal/textbytes"
)

// column maps one Go type T to Arrow columns, for the Arrow and Parquet
// formats. It is built once per writer or reader.
//
//	Go type                  Arrow type
//	string                   utf8 (invalid UTF-8 escaped, see textbytes)
//	[]byte                   binary; utf8 when declared text (Options.TextBytes)
//	intN, uintN, floatN      intN, uintN, floatN (int, uint: 64 bits)
//	bool                     bool
//	time.Time                timestamp[us, UTC]
//	[]E (E any of these)     list<E>
//	struct                   struct<exported fields, named by json tag if any>
//	anything else            utf8 holding the JSON of the value
//
// A struct key or value (one with exported fields, not time.Time, not a
// json.Marshaler) is flattened: each of its fields is a column of its own,
// named by the field, so that a job's output has the columns a user would
// write by hand. Any other type is one column, named by the caller.
type column[T any] struct {
	// fields are the column's Arrow fields: none for None, several for
	// a flattened struct, else one.
	fields []arrow.Field
	// put appends v to bs, the builders of fields.
	put func(bs []array.Builder, v T) error
	// get reads row i of cols, the arrays of fields, into a new T that
	// does not share memory with them.
	get func(cols []arrow.Array, i int) (T, error)
}

// newColumn returns the column of T named name (unless T is a flattened
// struct); text says that a []byte T is text.
func newColumn[T any](name string, text bool) column[T] {
	t := reflect.TypeFor[T]()
	if isNone[T]() {
		return column[T]{
			put: func([]array.Builder, T) error { return nil },
			get: func([]arrow.Array, int) (T, error) { var v T; return v, nil },
		}
	}
	if s, ok := flatStruct(t); ok {
		return flatColumn[T](s)
	}
	e := encFor(t)
	if text && t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		e = textBytesEnc{}
	}
	c := column[T]{fields: []arrow.Field{{Name: name, Type: e.arrowType(), Nullable: e.nullable()}}}
	put1, get1 := scalarColumn[T](e)
	c.put = func(bs []array.Builder, v T) error { return put1(bs[0], v) }
	c.get = func(cols []arrow.Array, i int) (T, error) { return get1(cols[0], i) }
	return c
}

// flatStruct returns the encoder of t when t is a struct to flatten.
func flatStruct(t reflect.Type) (structEnc, bool) {
	if t.Kind() != reflect.Struct || t == timeType || t.Implements(jsonMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) {
		return structEnc{}, false
	}
	return structEncFor(t)
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// isFlat reports whether T is written as several columns.
func isFlat[T any]() bool { _, ok := flatStruct(reflect.TypeFor[T]()); return ok }

func flatColumn[T any](s structEnc) column[T] {
	c := column[T]{fields: s.typ.Fields()}
	c.put = func(bs []array.Builder, v T) error {
		rv := reflect.ValueOf(&v).Elem()
		for j, f := range s.fields {
			if err := f.enc.put(bs[j], rv.Field(f.index)); err != nil {
				return fmt.Errorf("field %s: %w", f.name, err)
			}
		}
		return nil
	}
	c.get = func(cols []arrow.Array, i int) (T, error) {
		var v T
		rv := reflect.ValueOf(&v).Elem()
		for j, f := range s.fields {
			if err := f.enc.get(cols[j], i, rv.Field(f.index)); err != nil {
				return v, fmt.Errorf("column %s: %w", f.name, err)
			}
		}
		return v, nil
	}
	return c
}

// scalarColumn returns put and get for one column of encoder e. The common
// scalar types skip reflection on the write path, where every record goes
// through put.
func scalarColumn[T any](e enc) (func(array.Builder, T) error, func(arrow.Array, int) (T, error)) {
	t := reflect.TypeFor[T]()
	var put, get any
	switch any(*new(T)).(type) {
	case string:
		put = func(b array.Builder, v string) error { return stringEnc{}.putString(b, v) }
		get = func(a arrow.Array, i int) (string, error) {
			s, ok := a.(*array.String)
			if !ok {
				return "", typeMismatch(a, t)
			}
			return unescapeString(s.Value(i)), nil
		}
	case int64:
		put = func(b array.Builder, v int64) error { b.(*array.Int64Builder).Append(v); return nil }
		get = func(a arrow.Array, i int) (int64, error) {
			s, ok := a.(*array.Int64)
			if !ok {
				return 0, typeMismatch(a, t)
			}
			return s.Value(i), nil
		}
	case int:
		put = func(b array.Builder, v int) error { b.(*array.Int64Builder).Append(int64(v)); return nil }
	case float64:
		put = func(b array.Builder, v float64) error { b.(*array.Float64Builder).Append(v); return nil }
		get = func(a arrow.Array, i int) (float64, error) {
			s, ok := a.(*array.Float64)
			if !ok {
				return 0, typeMismatch(a, t)
			}
			return s.Value(i), nil
		}
	case []byte:
		if _, text := e.(textBytesEnc); text {
			var buf []byte
			put = func(b array.Builder, v []byte) error {
				sb := b.(*array.StringBuilder)
				switch {
				case v == nil:
					sb.AppendNull()
				case textbytes.Valid(v):
					sb.BinaryBuilder.Append(v)
				default:
					buf = textbytes.Append(buf[:0], v)
					sb.BinaryBuilder.Append(buf)
				}
				return nil
			}
			break
		}
		put = func(b array.Builder, v []byte) error {
			bb := b.(*array.BinaryBuilder)
			if v == nil {
				bb.AppendNull()
			} else {
				bb.Append(v)
			}
			return nil
		}
	}
	p, ok := put.(func(array.Builder, T) error)
	if !ok {
		p = func(b array.Builder, v T) error { return e.put(b, reflect.ValueOf(&v).Elem()) }
	}
	g, ok := get.(func(arrow.Array, int) (T, error))
	if !ok {
		g = func(a arrow.Array, i int) (T, error) {
			var v T
			err := e.get(a, i, reflect.ValueOf(&v).Elem())
			return v, err
		}
	}
	return p, g
}

// unescapeString undoes textbytes' escape of a string read from a utf8
// column, copying it so that it does not share the column's memory.
func unescapeString(s string) string {
	if textbytes.Unescaped(s) {
		return strings.Clone(s)
	}
	return string(textbytes.Unescape(nil, s))
}

func typeMismatch(a arrow.Array, t reflect.Type) error {
	return fmt.Errorf("output: column of type %s cannot be read as Go %s", a.DataType(), t)
}

// enc is the reflective encoder of one Go type to one Arrow type.
type enc interface {
	arrowType() arrow.DataType
	nullable() bool
	put(b array.Builder, v reflect.Value) error
	get(a arrow.Array, i int, v reflect.Value) error
}

var timeType = reflect.TypeFor[time.Time]()

// encFor chooses the encoder for t. Types it cannot map fall back to JSON.
func encFor(t reflect.Type) enc {
	if t == timeType {
		return timeEnc{}
	}
	switch t.Kind() {
	case reflect.Bool:
		return boolEnc{}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intEnc{t.Kind()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return uintEnc{t.Kind()}
	case reflect.Float32:
		return floatEnc{32}
	case reflect.Float64:
		return floatEnc{64}
	case reflect.String:
		return stringEnc{}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return binaryEnc{}
		}
		if el := encFor(t.Elem()); !isJSON(el) {
			return listEnc{elem: el, t: t}
		}
	case reflect.Struct:
		if s, ok := structEncFor(t); ok {
			return s
		}
	}
	return jsonEnc{}
}

func isJSON(e enc) bool { _, ok := e.(jsonEnc); return ok }

type boolEnc struct{}

func (boolEnc) arrowType() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (boolEnc) nullable() bool            { return false }
func (boolEnc) put(b array.Builder, v reflect.Value) error {
	b.(*array.BooleanBuilder).Append(v.Bool())
	return nil
}
func (boolEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.Boolean)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	v.SetBool(s.Value(i))
	return nil
}

type intEnc struct{ kind reflect.Kind }

func (e intEnc) arrowType() arrow.DataType {
	switch e.kind {
	case reflect.Int8:
		return arrow.PrimitiveTypes.Int8
	case reflect.Int16:
		return arrow.PrimitiveTypes.Int16
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32
	}
	return arrow.PrimitiveTypes.Int64
}
func (intEnc) nullable() bool { return false }
func (intEnc) put(b array.Builder, v reflect.Value) error {
	switch b := b.(type) {
	case *array.Int8Builder:
		b.Append(int8(v.Int()))
	case *array.Int16Builder:
		b.Append(int16(v.Int()))
	case *array.Int32Builder:
		b.Append(int32(v.Int()))
	case *array.Int64Builder:
		b.Append(v.Int())
	}
	return nil
}
func (intEnc) get(a arrow.Array, i int, v reflect.Value) error {
	switch a := a.(type) {
	case *array.Int8:
		v.SetInt(int64(a.Value(i)))
	case *array.Int16:
		v.SetInt(int64(a.Value(i)))
	case *array.Int32:
		v.SetInt(int64(a.Value(i)))
	case *array.Int64:
		v.SetInt(a.Value(i))
	default:
		return typeMismatch(a, v.Type())
	}
	return nil
}

type uintEnc struct{ kind reflect.Kind }

func (e uintEnc) arrowType() arrow.DataType {
	switch e.kind {
	case reflect.Uint8:
		return arrow.PrimitiveTypes.Uint8
	case reflect.Uint16:
		return arrow.PrimitiveTypes.Uint16
	case reflect.Uint32:
		return arrow.PrimitiveTypes.Uint32
	}
	return arrow.PrimitiveTypes.Uint64
}
func (uintEnc) nullable() bool { return false }
func (uintEnc) put(b array.Builder, v reflect.Value) error {
	switch b := b.(type) {
	case *array.Uint8Builder:
		b.Append(uint8(v.Uint()))
	case *array.Uint16Builder:
		b.Append(uint16(v.Uint()))
	case *array.Uint32Builder:
		b.Append(uint32(v.Uint()))
	case *array.Uint64Builder:
		b.Append(v.Uint())
	}
	return nil
}
func (uintEnc) get(a arrow.Array, i int, v reflect.Value) error {
	switch a := a.(type) {
	case *array.Uint8:
		v.SetUint(uint64(a.Value(i)))
	case *array.Uint16:
		v.SetUint(uint64(a.Value(i)))
	case *array.Uint32:
		v.SetUint(uint64(a.Value(i)))
	case *array.Uint64:
		v.SetUint(a.Value(i))
	default:
		return typeMismatch(a, v.Type())
	}
	return nil
}

type floatEnc struct{ bits int }

func (e floatEnc) arrowType() arrow.DataType {
	if e.bits == 32 {
		return arrow.PrimitiveTypes.Float32
	}
	return arrow.PrimitiveTypes.Float64
}
func (floatEnc) nullable() bool { return false }
func (floatEnc) put(b array.Builder, v reflect.Value) error {
	switch b := b.(type) {
	case *array.Float32Builder:
		b.Append(float32(v.Float()))
	case *array.Float64Builder:
		b.Append(v.Float())
	}
	return nil
}
func (floatEnc) get(a arrow.Array, i int, v reflect.Value) error {
	switch a := a.(type) {
	case *array.Float32:
		v.SetFloat(float64(a.Value(i)))
	case *array.Float64:
		v.SetFloat(a.Value(i))
	default:
		return typeMismatch(a, v.Type())
	}
	return nil
}

// stringEnc writes a string as utf8, escaping invalid UTF-8 reversibly
// (package textbytes) so that every reader sees a valid string.
type stringEnc struct{}

func (stringEnc) arrowType() arrow.DataType { return arrow.BinaryTypes.String }
func (stringEnc) nullable() bool            { return false }
func (e stringEnc) put(b array.Builder, v reflect.Value) error {
	return e.putString(b, v.String())
}
func (stringEnc) putString(b array.Builder, v string) error {
	sb := b.(*array.StringBuilder)
	if textbytes.Valid(v) {
		sb.Append(v)
	} else {
		sb.BinaryBuilder.Append(textbytes.Append(nil, v))
	}
	return nil
}
func (stringEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.String)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	v.SetString(unescapeString(s.Value(i)))
	return nil
}

// textBytesEnc writes a []byte that the job declares text as utf8, like
// stringEnc; a nil slice is a null.
type textBytesEnc struct{}

func (textBytesEnc) arrowType() arrow.DataType { return arrow.BinaryTypes.String }
func (textBytesEnc) nullable() bool            { return true }
func (textBytesEnc) put(b array.Builder, v reflect.Value) error {
	sb := b.(*array.StringBuilder)
	if v.IsNil() {
		sb.AppendNull()
	} else {
		sb.BinaryBuilder.Append(textbytes.Append(nil, v.Bytes()))
	}
	return nil
}
func (textBytesEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.String)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	if s.IsNull(i) {
		v.SetZero()
		return nil
	}
	v.SetBytes(textbytes.Unescape([]byte{}, s.Value(i)))
	return nil
}

type binaryEnc struct{}

func (binaryEnc) arrowType() arrow.DataType { return arrow.BinaryTypes.Binary }
func (binaryEnc) nullable() bool            { return true }
func (binaryEnc) put(b array.Builder, v reflect.Value) error {
	bb := b.(*array.BinaryBuilder)
	if v.IsNil() {
		bb.AppendNull()
	} else {
		bb.Append(v.Bytes())
	}
	return nil
}
func (binaryEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.Binary)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	if s.IsNull(i) {
		v.SetZero()
		return nil
	}
	v.SetBytes(bytes.Clone(s.Value(i)))
	if v.IsNil() {
		v.SetBytes([]byte{})
	}
	return nil
}

// timeEnc stores time.Time as microseconds since the epoch in UTC, the
// timestamp unit DuckDB, Spark and pandas all read without conversion.
type timeEnc struct{}

var timestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func (timeEnc) arrowType() arrow.DataType { return timestampType }
func (timeEnc) nullable() bool            { return false }
func (timeEnc) put(b array.Builder, v reflect.Value) error {
	t := v.Interface().(time.Time)
	b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMicro()))
	return nil
}
func (timeEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.Timestamp)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	unit := s.DataType().(*arrow.TimestampType).Unit
	v.Set(reflect.ValueOf(s.Value(i).ToTime(unit).UTC()))
	return nil
}

// listEnc writes a slice as list<elem>; a nil slice is a null list so that
// it reads back as nil.
type listEnc struct {
	elem enc
	t    reflect.Type
}

func (e listEnc) arrowType() arrow.DataType {
	return arrow.ListOfField(arrow.Field{Name: "element", Type: e.elem.arrowType(), Nullable: e.elem.nullable()})
}
func (listEnc) nullable() bool { return true }
func (e listEnc) put(b array.Builder, v reflect.Value) error {
	lb := b.(*array.ListBuilder)
	if v.IsNil() {
		lb.AppendNull()
		return nil
	}
	lb.Append(true)
	vb := lb.ValueBuilder()
	for i := range v.Len() {
		if err := e.elem.put(vb, v.Index(i)); err != nil {
			return err
		}
	}
	return nil
}
func (e listEnc) get(a arrow.Array, i int, v reflect.Value) error {
	l, ok := a.(*array.List)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	if l.IsNull(i) {
		v.SetZero()
		return nil
	}
	start, end := l.ValueOffsets(i)
	s := reflect.MakeSlice(e.t, int(end-start), int(end-start))
	child := l.ListValues()
	for j := start; j < end; j++ {
		if err := e.elem.get(child, int(j), s.Index(int(j-start))); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

type structField struct {
	index int
	name  string
	enc   enc
}

// structEnc writes a struct's exported fields as a struct column, each
// named by its json tag when it has one ("-" leaves a field out).
type structEnc struct {
	fields []structField
	typ    *arrow.StructType
}

func structEncFor(t reflect.Type) (structEnc, bool) {
	var s structEnc
	var afs []arrow.Field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		e := encFor(f.Type)
		s.fields = append(s.fields, structField{index: i, name: name, enc: e})
		afs = append(afs, arrow.Field{Name: name, Type: e.arrowType(), Nullable: e.nullable()})
	}
	if len(afs) == 0 {
		// Parquet cannot hold a struct without fields.
		return s, false
	}
	s.typ = arrow.StructOf(afs...)
	return s, true
}

func (e structEnc) arrowType() arrow.DataType { return e.typ }
func (structEnc) nullable() bool              { return false }
func (e structEnc) put(b array.Builder, v reflect.Value) error {
	sb := b.(*array.StructBuilder)
	sb.Append(true)
	for j, f := range e.fields {
		if err := f.enc.put(sb.FieldBuilder(j), v.Field(f.index)); err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	return nil
}
func (e structEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.Struct)
	if !ok || s.NumField() != len(e.fields) {
		return typeMismatch(a, v.Type())
	}
	for j, f := range e.fields {
		if err := f.enc.get(s.Field(j), i, v.Field(f.index)); err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	return nil
}

// jsonEnc is the fallback: a utf8 column holding the JSON of the value, which
// every reader can at least show and DuckDB can parse with json functions.
type jsonEnc struct{}

func (jsonEnc) arrowType() arrow.DataType { return arrow.BinaryTypes.String }
func (jsonEnc) nullable() bool            { return false }
func (jsonEnc) put(b array.Builder, v reflect.Value) error {
	j, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	b.(*array.StringBuilder).BinaryBuilder.Append(j)
	return nil
}
func (jsonEnc) get(a arrow.Array, i int, v reflect.Value) error {
	s, ok := a.(*array.String)
	if !ok {
		return typeMismatch(a, v.Type())
	}
	if err := json.Unmarshal([]byte(s.Value(i)), v.Addr().Interface()); err != nil {
		return fmt.Errorf("output: column of JSON as Go %s: %w", v.Type(), err)
	}
	return nil
}
