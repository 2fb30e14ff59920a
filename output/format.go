// Package output writes the records a reducer emits to part files in one of
// several formats (text lines, JSON lines, Parquet, Arrow IPC), reads them
// back as typed records, merges sorted parts into one file, and prints any of
// them as text for `quern cat`.
//
// The column encoder for a key or value type is chosen once, when a Writer or
// Reader is created, from the static Go type; nothing is decided per record.
package output

import (
	"errors"
	"fmt"
	"strings"
)

// Format is the file format of reduce output.
type Format uint8

const (
	// Text writes one line "key\tvalue\n" per record, the format of Hadoop
	// streaming: strings and byte slices raw, numbers in decimal,
	// fmt.Stringers by String, anything else as JSON. A None key or value is
	// left out together with its tab.
	Text Format = iota
	// JSONL writes one JSON object {"key":…,"value":…} per line, with real
	// JSON types; None columns are left out.
	JSONL
	// Parquet writes a Parquet file with typed columns, zstd compressed.
	Parquet
	// Arrow writes an Arrow IPC file (the random-access "Feather v2" form).
	Arrow
)

var formatNames = [...]string{Text: "text", JSONL: "jsonl", Parquet: "parquet", Arrow: "arrow"}

// String returns the name ParseFormat accepts.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ErrUnknownFormat is returned by ParseFormat and ParseCompression for a name
// they do not know, and by Create and Open for an out-of-range value.
var ErrUnknownFormat = errors.New("output: unknown format")

// ParseFormat parses a format name: "text", "jsonl", "parquet" or "arrow"
// (case-insensitive).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "text", "txt":
		return Text, nil
	case "jsonl", "json", "ndjson":
		return JSONL, nil
	case "parquet":
		return Parquet, nil
	case "arrow", "feather", "ipc":
		return Arrow, nil
	}
	return 0, fmt.Errorf("%w %q (want text, jsonl, parquet or arrow)", ErrUnknownFormat, s)
}

// Compression is the whole-file compression of Text and JSONL output. Parquet
// compresses its own pages (zstd unless Gzip is asked for); Arrow compresses
// record batch bodies with zstd when Zstd is asked for.
type Compression uint8

const (
	// None writes the file uncompressed.
	None Compression = iota
	// Gzip wraps the file in gzip.
	Gzip
	// Zstd wraps the file in zstd.
	Zstd
)

var compressionNames = [...]string{None: "none", Gzip: "gzip", Zstd: "zstd"}

// String returns the name ParseCompression accepts.
func (c Compression) String() string {
	if int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// ParseCompression parses a compression name: "" or "none", "gz" or "gzip",
// "zst" or "zstd" (case-insensitive).
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return None, nil
	case "gz", "gzip":
		return Gzip, nil
	case "zst", "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("%w: compression %q (want none, gzip or zstd)", ErrUnknownFormat, s)
}

// Options configure a Writer or Reader. The zero value writes plain text.
type Options struct {
	Format      Format
	Compression Compression
	// KeyName and ValueName name the columns in JSONL, Parquet and Arrow;
	// empty means "key" and "value".
	KeyName, ValueName string
	// TextBytes declares that a []byte key or value is text: a utf8
	// column in Parquet and Arrow and a JSON string in JSONL instead of
	// binary and base64. Bytes that are not valid UTF-8 are escaped
	// reversibly (see internal/textbytes) in either case. It applies to
	// the key and value themselves, not to []byte inside a struct or
	// list: use string there.
	TextBytes bool
	// ValueColumns, when set, writes a value of a slice-of-string type
	// as one text column per name instead of one list column named
	// ValueName (see rowColumn). Jobs whose rows take their shape from
	// the input set it while planning (mapreduce.Job.ColumnsFromInput).
	ValueColumns []string
}

func (o Options) keyName() string {
	if o.KeyName == "" {
		return "key"
	}
	return o.KeyName
}

func (o Options) valueName() string {
	if o.ValueName == "" {
		return "value"
	}
	return o.ValueName
}

// validate refuses combinations that have no meaning, so that a typo in a
// flag fails the job at once instead of after the reduce.
func (o Options) validate() error {
	if int(o.Format) >= len(formatNames) {
		return fmt.Errorf("%w %d", ErrUnknownFormat, o.Format)
	}
	if int(o.Compression) >= len(compressionNames) {
		return fmt.Errorf("%w: compression %d", ErrUnknownFormat, o.Compression)
	}
	if o.Format == Arrow && o.Compression == Gzip {
		return fmt.Errorf("%w: arrow files compress with zstd or none, not gzip", ErrUnknownFormat)
	}
	if o.keyName() == o.valueName() {
		return fmt.Errorf("output: key and value columns both named %q", o.keyName())
	}
	return nil
}

// Ext is the file name extension for the options: "" for plain text (part
// files stay "part-00000" as Hadoop users expect), ".gz", ".zst", ".jsonl",
// ".jsonl.gz", ".jsonl.zst", ".parquet", ".arrow".
func (o Options) Ext() string {
	var ext string
	switch o.Format {
	case Parquet:
		return ".parquet"
	case Arrow:
		return ".arrow"
	case JSONL:
		ext = ".jsonl"
	}
	switch o.Compression {
	case Gzip:
		ext += ".gz"
	case Zstd:
		ext += ".zst"
	}
	return ext
}
