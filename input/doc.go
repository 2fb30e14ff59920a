// Package input finds a job's input files, cuts them into splits and reads
// the records of one split.
//
// The driver calls [Expand] on the --input arguments and [Plan] on the
// result; each map task then calls [OpenRecords] on its [Split] and loops on
// [RecordReader.Next] ([Open] and [LineReader] read plain lines). Each file
// has a [Format]: Text, CSV, TSV and JSONL are split by byte range as below;
// Parquet files by row group and Arrow IPC files by record batch. The
// package knows nothing of processes or jobs.
//
// # Line ownership
//
// A plain text file is cut into byte ranges without looking at its content,
// so a range usually starts and ends in the middle of a line. A line belongs
// to the split that contains its first byte: a split whose Start > 0 skips
// the partial line it starts in (the previous split finishes it) and reads
// past End to finish its own last line. Whatever the split size, every line
// of the file is read exactly once. Compressed files cannot be entered in
// the middle, so they are always a single split.
package input
