package input

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Format is how a file's bytes become records. It is decided by the file
// name (see [FormatOf]) when [Expand] finds the file; a caller may override
// it (the --input-format flag) with [SetFormat] or by assignment before
// calling [Plan], which splits each format its own way.
type Format uint8

const (
	// Text is one record per line, as [LineReader] reads them.
	Text Format = iota
	// CSV is comma-separated values with a header line. Quoting follows
	// RFC 4180 within a line; see [OpenRecords] for fields that hold a
	// newline.
	CSV
	// TSV is tab-separated values with a header line and no quoting.
	TSV
	// JSONL is one JSON value per line. The line is the record; whether it
	// is valid JSON is the application's business.
	JSONL
	// Parquet files are split by row group.
	Parquet
	// Arrow is the Arrow IPC file format, split by record batch, or the
	// Arrow IPC stream format, read as one split.
	Arrow
	// WholeFile is one record per file: the whole (decompressed) contents,
	// as Hadoop's WholeFileInputFormat and Spark's wholeTextFiles give
	// them, for jobs that handle a document per file. Never inferred from
	// a name; see [OpenRecords] for the size limit.
	WholeFile
)

// formatNames are the names ParseFormat accepts, indexed by Format.
var formatNames = [...]string{
	Text:    "text",
	CSV:     "csv",
	TSV:     "tsv",
	JSONL:   "jsonl",
	Parquet: "parquet",
	Arrow:   "arrow",

	WholeFile: "wholefile",
}

// String returns the name ParseFormat accepts: "text", "csv", "tsv",
// "jsonl", "parquet", "arrow" or "wholefile".
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ParseFormat returns the format named s (case-insensitive), one of the
// names that [Format.String] returns. The error for any other name lists
// the valid ones, so it can be shown to a user as is.
func ParseFormat(s string) (Format, error) {
	for i, name := range formatNames {
		if strings.EqualFold(s, name) {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("input: unknown input format %q (valid: %s)", s, strings.Join(formatNames[:], ", "))
}

// FormatOf returns the format implied by path's name (case-insensitive),
// after removing a compression extension (.gz, .zst, .zstd, .bz2, .bz,
// .xz): .csv is CSV;
// .tsv and .tab are TSV; .jsonl, .ndjson and .json are JSONL; .parquet and
// .pq are Parquet; .arrow, .ipc and .feather are Arrow; anything else is
// Text.
func FormatOf(path string) Format {
	base := strings.ToLower(filepath.Base(path))
	if CompressionOf(base) != None {
		base = strings.TrimSuffix(base, filepath.Ext(base))
	}
	switch filepath.Ext(base) {
	case ".csv":
		return CSV
	case ".tsv", ".tab":
		return TSV
	case ".jsonl", ".ndjson", ".json":
		return JSONL
	case ".parquet", ".pq":
		return Parquet
	case ".arrow", ".ipc", ".feather":
		return Arrow
	default:
		return Text
	}
}

// SetFormat sets the Format of every file to f, overriding what [Expand]
// inferred from the names.
func SetFormat(files []File, f Format) {
	for i := range files {
		files[i].Format = f
	}
}

// AsLines returns files with every CSV and TSV file read as Text, for a job
// that reads each record's Value as a line of text and never its Fields:
// the first line of such a file is then a record like every other, where
// CSV and TSV would take it for a header and drop it (word count, grep and
// an edge list have no header, whatever the file's name). Other files are
// as they were. files itself is not modified; the result is files when no
// format changes.
func AsLines(files []File) []File {
	var out []File
	for i, f := range files {
		if f.Format != CSV && f.Format != TSV {
			continue
		}
		if out == nil {
			out = slices.Clone(files)
		}
		out[i].Format = Text
	}
	if out == nil {
		return files
	}
	return out
}

// columnar reports whether f is split by a unit other than bytes.
func (f Format) columnar() bool { return f == Parquet || f == Arrow }

// lines reports whether f is read by lines: Text, JSONL, CSV and TSV.
func (f Format) lines() bool { return f == Text || f == JSONL || f == CSV || f == TSV }

// wholeFile reports whether each file of format f is read whole, as one
// record, so that the planner gives it one split of its own (which a
// planner packing small files may put in a task with others).
func (f Format) wholeFile() bool { return f == WholeFile }

// splittable reports whether f can be cut into byte ranges read apart:
// plain bytes in a line format.
func (f File) splittable() bool {
	return f.Compression == None && !f.Format.wholeFile() && !f.Format.columnar()
}

// Unit says what a [Split]'s Start and End count.
type Unit uint8

const (
	// Bytes: Start and End are byte offsets in the file (line formats, and
	// any file read whole as one split, such as an Arrow IPC stream).
	Bytes Unit = iota
	// RowGroups: Start and End are Parquet row-group indexes.
	RowGroups
	// Batches: Start and End are record-batch indexes of an Arrow IPC file.
	Batches
)

// String returns "bytes", "row groups" or "batches".
func (u Unit) String() string {
	switch u {
	case Bytes:
		return "bytes"
	case RowGroups:
		return "row groups"
	case Batches:
		return "batches"
	default:
		return fmt.Sprintf("Unit(%d)", uint8(u))
	}
}
