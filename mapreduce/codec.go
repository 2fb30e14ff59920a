package mapreduce

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// A Codec turns values of type T into bytes and back.
//
// A codec used for keys must preserve order: for any a and b,
// bytes.Compare(Append(nil, a), Append(nil, b)) has the sign of the natural
// comparison of a and b. Runs are sorted and merged as raw bytes, so this is
// what makes reducers see keys in order. Value codecs need not preserve order.
//
// Append appends the encoding of v to dst and returns the extended slice, so a
// caller can reuse one buffer for every record. Decode must not retain b.
type Codec[T any] interface {
	Append(dst []byte, v T) []byte
	Decode(b []byte) (T, error)
}

// ErrCodec reports bytes that a codec cannot decode.
var ErrCodec = errors.New("mapreduce: cannot decode")

// StringCodec encodes a string as its bytes. As a key it sorts bytewise.
type StringCodec struct{}

// Append implements Codec.
func (StringCodec) Append(dst []byte, v string) []byte { return append(dst, v...) }

// Decode implements Codec.
func (StringCodec) Decode(b []byte) (string, error) { return string(b), nil }

// BytesCodec encodes a byte slice as itself. Decode returns a copy, because
// the bytes it is given live only until the next record.
type BytesCodec struct{}

// Append implements Codec.
func (BytesCodec) Append(dst []byte, v []byte) []byte { return append(dst, v...) }

// Decode implements Codec.
func (BytesCodec) Decode(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }

// OrderedIntCodec encodes a signed integer as 8 big-endian bytes with the
// sign bit flipped, so that negative numbers sort before positive ones.
type OrderedIntCodec[T ~int | ~int8 | ~int16 | ~int32 | ~int64] struct{}

// Append implements Codec.
func (OrderedIntCodec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(int64(v))^(1<<63))
}

// Decode implements Codec.
func (OrderedIntCodec[T]) Decode(b []byte) (T, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: ordered int needs 8 bytes, got %d", ErrCodec, len(b))
	}
	return T(int64(binary.BigEndian.Uint64(b) ^ (1 << 63))), nil
}

// OrderedUintCodec encodes an unsigned integer as 8 big-endian bytes.
type OrderedUintCodec[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr] struct{}

// Append implements Codec.
func (OrderedUintCodec[T]) Append(dst []byte, v T) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

// Decode implements Codec.
func (OrderedUintCodec[T]) Decode(b []byte) (T, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: ordered uint needs 8 bytes, got %d", ErrCodec, len(b))
	}
	return T(binary.BigEndian.Uint64(b)), nil
}

// OrderedFloatCodec encodes a float so that bytes sort as numbers do, and
// as cmp.Compare orders them: the IEEE 754 bits, big-endian, with the sign
// bit flipped for positive numbers and every bit flipped for negative ones.
// Keys equal as numbers get equal bytes, so that they fall in one group, as
// in a Go map or SQL's GROUP BY: -0 is encoded as +0, and every NaN as eight
// zero bytes, which sort before -Inf (cmp.Compare's order) and decode as a
// NaN.
type OrderedFloatCodec[T ~float32 | ~float64] struct{}

// Append implements Codec.
func (OrderedFloatCodec[T]) Append(dst []byte, v T) []byte {
	f := float64(v)
	switch {
	case f != f:
		return binary.BigEndian.AppendUint64(dst, 0)
	case f == 0:
		f = 0 // -0 too
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// Decode implements Codec.
func (OrderedFloatCodec[T]) Decode(b []byte) (T, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: ordered float needs 8 bytes, got %d", ErrCodec, len(b))
	}
	u := binary.BigEndian.Uint64(b)
	if u&(1<<63) != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return T(math.Float64frombits(u)), nil
}

// BoolCodec encodes false as 0 and true as 1.
type BoolCodec struct{}

// Append implements Codec.
func (BoolCodec) Append(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// Decode implements Codec.
func (BoolCodec) Decode(b []byte) (bool, error) {
	if len(b) != 1 || b[0] > 1 {
		return false, fmt.Errorf("%w: bool needs one byte 0 or 1", ErrCodec)
	}
	return b[0] == 1, nil
}

// VarintCodec encodes a signed integer as a zig-zag varint: 1 byte for small
// counts instead of 8. It does not preserve order, so it serves values only.
type VarintCodec[T ~int | ~int8 | ~int16 | ~int32 | ~int64] struct{}

// Append implements Codec.
func (VarintCodec[T]) Append(dst []byte, v T) []byte { return binary.AppendVarint(dst, int64(v)) }

// Decode implements Codec.
func (VarintCodec[T]) Decode(b []byte) (T, error) {
	v, n := binary.Varint(b)
	if n != len(b) {
		return 0, fmt.Errorf("%w: bad varint of %d bytes", ErrCodec, len(b))
	}
	return T(v), nil
}

// UvarintCodec encodes an unsigned integer as a varint; values only.
type UvarintCodec[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr] struct{}

// Append implements Codec.
func (UvarintCodec[T]) Append(dst []byte, v T) []byte { return binary.AppendUvarint(dst, uint64(v)) }

// Decode implements Codec.
func (UvarintCodec[T]) Decode(b []byte) (T, error) {
	v, n := binary.Uvarint(b)
	if n != len(b) {
		return 0, fmt.Errorf("%w: bad uvarint of %d bytes", ErrCodec, len(b))
	}
	return T(v), nil
}

// JSONCodec encodes any value as JSON. It is the fallback for value types
// that bring no codec of their own; it is slow and does not preserve order,
// so it never serves keys.
type JSONCodec[T any] struct{}

// Append implements Codec.
func (JSONCodec[T]) Append(dst []byte, v T) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// A value that cannot be marshalled is a programming error in the
		// job (a channel or func in a value type); fail the task loudly.
		panic(fmt.Sprintf("mapreduce: JSONCodec cannot encode %T: %v", v, err))
	}
	return append(dst, b...)
}

// Decode implements Codec.
func (JSONCodec[T]) Decode(b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrCodec, err)
	}
	return v, nil
}

// KeyCodecFor returns the order-preserving codec for T when T is a string,
// byte slice, integer, float or bool type (or a named type of one), and nil
// otherwise.
func KeyCodecFor[T any]() Codec[T] {
	var c any
	switch reflect.TypeFor[T]().Kind() {
	case reflect.String:
		c = stringish[T]{}
	case reflect.Slice:
		if reflect.TypeFor[T]().Elem().Kind() == reflect.Uint8 {
			c = bytesish[T]{}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		c = reflectInt[T]{ordered: true}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		c = reflectUint[T]{ordered: true}
	case reflect.Float32, reflect.Float64:
		c = reflectFloat[T]{}
	case reflect.Bool:
		c = reflectBool[T]{}
	}
	if c == nil {
		return nil
	}
	return fastest[T](c.(Codec[T]), true)
}

// ValueCodecFor returns a compact codec for T: varints for integers, the
// key codecs for strings, bytes, floats and bools, and JSON for anything else.
func ValueCodecFor[T any]() Codec[T] {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fastest[T](reflectInt[T]{}, false)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fastest[T](reflectUint[T]{}, false)
	}
	if c := KeyCodecFor[T](); c != nil {
		return c
	}
	return JSONCodec[T]{}
}

// fastest swaps a reflection-based codec for a direct one when T is exactly
// a predeclared type, which is the common case (string keys, int counts).
// The direct codecs avoid reflect.Value on every record.
func fastest[T any](fallback Codec[T], ordered bool) Codec[T] {
	var c any
	switch any(*new(T)).(type) {
	case string:
		c = StringCodec{}
	case []byte:
		c = BytesCodec{}
	case int:
		c = pick[int](ordered, OrderedIntCodec[int]{}, VarintCodec[int]{})
	case int64:
		c = pick[int64](ordered, OrderedIntCodec[int64]{}, VarintCodec[int64]{})
	case int32:
		c = pick[int32](ordered, OrderedIntCodec[int32]{}, VarintCodec[int32]{})
	case uint64:
		c = pick[uint64](ordered, OrderedUintCodec[uint64]{}, UvarintCodec[uint64]{})
	case uint32:
		c = pick[uint32](ordered, OrderedUintCodec[uint32]{}, UvarintCodec[uint32]{})
	case uint:
		c = pick[uint](ordered, OrderedUintCodec[uint]{}, UvarintCodec[uint]{})
	case float64:
		c = OrderedFloatCodec[float64]{}
	case float32:
		c = OrderedFloatCodec[float32]{}
	case bool:
		c = BoolCodec{}
	}
	if direct, ok := c.(Codec[T]); ok {
		return direct
	}
	return fallback
}

func pick[T any](ordered bool, o, v Codec[T]) Codec[T] {
	if ordered {
		return o
	}
	return v
}

// The reflect* codecs serve named types (type UserID int64) whose underlying
// type is one the framework knows.

type stringish[T any] struct{}

func (stringish[T]) Append(dst []byte, v T) []byte {
	return append(dst, reflect.ValueOf(v).String()...)
}
func (stringish[T]) Decode(b []byte) (T, error) {
	var v T
	reflect.ValueOf(&v).Elem().SetString(string(b))
	return v, nil
}

type bytesish[T any] struct{}

func (bytesish[T]) Append(dst []byte, v T) []byte {
	return append(dst, reflect.ValueOf(v).Bytes()...)
}
func (bytesish[T]) Decode(b []byte) (T, error) {
	var v T
	reflect.ValueOf(&v).Elem().SetBytes(append([]byte(nil), b...))
	return v, nil
}

type reflectInt[T any] struct{ ordered bool }

func (c reflectInt[T]) Append(dst []byte, v T) []byte {
	i := reflect.ValueOf(v).Int()
	if c.ordered {
		return OrderedIntCodec[int64]{}.Append(dst, i)
	}
	return binary.AppendVarint(dst, i)
}
func (c reflectInt[T]) Decode(b []byte) (T, error) {
	var v T
	var i int64
	var err error
	if c.ordered {
		i, err = OrderedIntCodec[int64]{}.Decode(b)
	} else {
		i, err = VarintCodec[int64]{}.Decode(b)
	}
	reflect.ValueOf(&v).Elem().SetInt(i)
	return v, err
}

type reflectUint[T any] struct{ ordered bool }

func (c reflectUint[T]) Append(dst []byte, v T) []byte {
	u := reflect.ValueOf(v).Uint()
	if c.ordered {
		return binary.BigEndian.AppendUint64(dst, u)
	}
	return binary.AppendUvarint(dst, u)
}
func (c reflectUint[T]) Decode(b []byte) (T, error) {
	var v T
	var u uint64
	var err error
	if c.ordered {
		u, err = OrderedUintCodec[uint64]{}.Decode(b)
	} else {
		u, err = UvarintCodec[uint64]{}.Decode(b)
	}
	reflect.ValueOf(&v).Elem().SetUint(u)
	return v, err
}

type reflectFloat[T any] struct{}

func (reflectFloat[T]) Append(dst []byte, v T) []byte {
	return OrderedFloatCodec[float64]{}.Append(dst, reflect.ValueOf(v).Float())
}
func (reflectFloat[T]) Decode(b []byte) (T, error) {
	var v T
	f, err := OrderedFloatCodec[float64]{}.Decode(b)
	reflect.ValueOf(&v).Elem().SetFloat(f)
	return v, err
}

type reflectBool[T any] struct{}

func (reflectBool[T]) Append(dst []byte, v T) []byte {
	return BoolCodec{}.Append(dst, reflect.ValueOf(v).Bool())
}
func (reflectBool[T]) Decode(b []byte) (T, error) {
	var v T
	x, err := BoolCodec{}.Decode(b)
	reflect.ValueOf(&v).Elem().SetBool(x)
	return v, err
}
