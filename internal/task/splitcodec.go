package task

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/quern-dev/quern/input"
)

// The splits of a map task spec, compactly.
//
// A packed task of tiny files lists thousands of splits, and as JSON each
// carried its whole input.File (a 2,600-file task was 714 KB, 1.9 µs a
// file to encode and 4.8 µs to decode, about 4% of a word count over
// tiny files). A MapSpec therefore crosses to a worker with its splits as
// one binary field, base64 in the JSON (encoding/json's []byte), in this
// format (uvarint and varint as encoding/binary writes them; a string is
// a uvarint length and its bytes):
//
//	byte     version, 1
//	uvarint  number of splits
//	per split:
//	  byte     flags: 1 same file as the split before, 2 Guessed,
//	           4 Chunk follows, 8 Version follows, 16 FirstRow follows,
//	           32 ModTime follows, 64 EdgeSum follows, 128 ChunkOffset
//	           follows
//	  if not the same file:
//	    uvarint  directory: an index into the directories seen so far in
//	             this list, or their count, and then a new directory
//	             (string) that takes that index
//	    string   base name (Path is filepath.Join-free: dir + base as cut
//	             by filepath.Split, so it is the same string)
//	    varint   Size
//	    byte     Compression, byte Format
//	    varint   ModTime as Unix nanoseconds (flag 32)
//	    uvarint  ID.Device, uvarint ID.Inode
//	    string   Version (flag 8)
//	    uvarint  EdgeSum (flag 64)
//	  varint   Index, varint Start, varint End, byte Unit
//	  string   Chunk (flag 4); varint FirstRow (flag 16); varint
//	  ChunkOffset (flag 128)
//
// Decoding gives back the same splits (ModTime in UTC, which the change
// check compares with Equal), so errors, skipped records and _job.json
// name files and ranges as before.

const splitCodecVersion = 1

const (
	sameFile = 1 << iota
	guessed
	hasChunk
	hasVersion
	hasFirstRow
	hasModTime
	hasEdgeSum
	hasChunkOffset
)

// appendSplits appends the encoding of splits to b.
func appendSplits(b []byte, splits []input.Split) []byte {
	b = append(b, splitCodecVersion)
	b = binary.AppendUvarint(b, uint64(len(splits)))
	dirs := map[string]uint64{}
	for i, s := range splits {
		f := s.File
		var flags byte
		if i > 0 && f == splits[i-1].File {
			flags |= sameFile
		}
		if f.Guessed {
			flags |= guessed
		}
		if s.Chunk != "" {
			flags |= hasChunk
		}
		if f.Version != "" {
			flags |= hasVersion
		}
		if s.FirstRow != 0 {
			flags |= hasFirstRow
		}
		if !f.ModTime.IsZero() {
			flags |= hasModTime
		}
		if f.EdgeSum != 0 {
			flags |= hasEdgeSum
		}
		if s.ChunkOffset != 0 {
			flags |= hasChunkOffset
		}
		b = append(b, flags)
		if flags&sameFile == 0 {
			dir, base := filepath.Split(f.Path)
			k, ok := dirs[dir]
			if !ok {
				k = uint64(len(dirs))
				dirs[dir] = k
			}
			b = binary.AppendUvarint(b, k)
			if !ok {
				b = appendString(b, dir)
			}
			b = appendString(b, base)
			b = binary.AppendVarint(b, f.Size)
			b = append(b, byte(f.Compression), byte(f.Format))
			if flags&hasModTime != 0 {
				b = binary.AppendVarint(b, f.ModTime.UnixNano())
			}
			b = binary.AppendUvarint(b, f.ID.Device)
			b = binary.AppendUvarint(b, f.ID.Inode)
			if flags&hasVersion != 0 {
				b = appendString(b, f.Version)
			}
			if flags&hasEdgeSum != 0 {
				b = binary.AppendUvarint(b, f.EdgeSum)
			}
		}
		b = binary.AppendVarint(b, int64(s.Index))
		b = binary.AppendVarint(b, s.Start)
		b = binary.AppendVarint(b, s.End)
		b = append(b, byte(s.Unit))
		if flags&hasChunk != 0 {
			b = appendString(b, s.Chunk)
		}
		if flags&hasFirstRow != 0 {
			b = binary.AppendVarint(b, s.FirstRow)
		}
		if flags&hasChunkOffset != 0 {
			b = binary.AppendVarint(b, s.ChunkOffset)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errSplitCodec = errors.New("task: malformed split list")

// splitDecoder reads what appendSplits wrote; its first error sticks.
type splitDecoder struct {
	b   []byte
	err error
}

func (d *splitDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *splitDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *splitDecoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *splitDecoder) string() string { return string(d.bytes()) }

// bytes returns the next string's bytes, which alias d.b.
func (d *splitDecoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *splitDecoder) fail() {
	if d.err == nil {
		d.err = errSplitCodec
	}
	d.b = nil
}

// decodeSplits reads the splits that appendSplits encoded in b.
func decodeSplits(b []byte) ([]input.Split, error) {
	d := &splitDecoder{b: b}
	if v := d.byte(); d.err == nil && v != splitCodecVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errSplitCodec, v, splitCodecVersion)
	}
	n := d.uvarint()
	if n > uint64(len(b)) { // every split takes bytes
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	splits := make([]input.Split, n)
	var dirs []string
	for i := range splits {
		s := &splits[i]
		flags := d.byte()
		if flags&sameFile != 0 {
			if i == 0 {
				d.fail()
				break
			}
			s.File = splits[i-1].File
		} else {
			f := &s.File
			k := d.uvarint()
			switch {
			case k == uint64(len(dirs)):
				dirs = append(dirs, d.string())
			case k > uint64(len(dirs)):
				d.fail()
			}
			if d.err != nil {
				break
			}
			f.Path = dirs[k] + string(d.bytes()) // one allocation
			f.Size = d.varint()
			f.Compression, f.Format = input.Compression(d.byte()), input.Format(d.byte())
			if flags&hasModTime != 0 {
				f.ModTime = time.Unix(0, d.varint()).UTC()
			}
			f.ID.Device, f.ID.Inode = d.uvarint(), d.uvarint()
			if flags&hasVersion != 0 {
				f.Version = d.string()
			}
			if flags&hasEdgeSum != 0 {
				f.EdgeSum = d.uvarint()
			}
			f.Guessed = flags&guessed != 0
		}
		s.Index = int(d.varint())
		s.Start, s.End = d.varint(), d.varint()
		s.Unit = input.Unit(d.byte())
		if flags&hasChunk != 0 {
			s.Chunk = d.string()
		}
		if flags&hasFirstRow != 0 {
			s.FirstRow = d.varint()
		}
		if flags&hasChunkOffset != 0 {
			s.ChunkOffset = d.varint()
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return splits, nil
}

// mapSpecJSON is MapSpec as JSON: its fields, but Input's splits in the
// binary form above.
type mapSpecJSON struct {
	mapSpecFields
	Input []byte
}

// mapSpecFields is MapSpec without its methods, so that encoding/json
// encodes its fields rather than calling MarshalJSON again.
type mapSpecFields MapSpec

// MarshalJSON encodes the spec with its splits compactly (see above).
func (s MapSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(mapSpecJSON{mapSpecFields(s), appendSplits(nil, s.Input.Splits)})
}

// EncodeSpec encodes a task's spec as JSON, through its own MarshalJSON
// when it has one: json.Marshal would then scan and compact the method's
// output again, and a packed task of thousands of tiny files has a spec of
// a hundred KB or more (BenchmarkMapSpecCodec).
func EncodeSpec(spec any) ([]byte, error) {
	if m, ok := spec.(json.Marshaler); ok {
		return m.MarshalJSON()
	}
	return json.Marshal(spec)
}

// DecodeSpec decodes what EncodeSpec wrote into the spec that into points
// to, through its UnmarshalJSON when it has one (json.Unmarshal would
// first scan the whole encoding to check it, which UnmarshalJSON does
// anyway).
func DecodeSpec(b []byte, into any) error {
	if u, ok := into.(json.Unmarshaler); ok {
		return u.UnmarshalJSON(b)
	}
	return json.Unmarshal(b, into)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (s *MapSpec) UnmarshalJSON(b []byte) error {
	var j mapSpecJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	splits, err := decodeSplits(j.Input)
	if err != nil {
		return err
	}
	*s = MapSpec(j.mapSpecFields)
	s.Input = input.Task{Splits: splits}
	return nil
}
