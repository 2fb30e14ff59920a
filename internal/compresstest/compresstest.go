// Package compresstest writes compressed test data: the tests of the
// packages that read compressed input (mapreduce, pipeline) make their
// files with it, each compression by a writer other than the reader that
// Quern uses.
package compresstest

import (
	"bytes"
	"errors"
	"testing"

	dsbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"github.com/quern-dev/quern/input"
)

// Compress returns data compressed by c. Bzip2 is written in blocks of
// 100 kB (level 1), so that a few hundred kB make several.
func Compress(t testing.TB, c input.Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch c {
	case input.Gzip:
		w = gzip.NewWriter(&buf)
	case input.Zstd:
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	case input.Xz:
		w, err = xz.NewWriter(&buf)
	case input.Bzip2:
		w, err = dsbzip2.NewWriter(&buf, &dsbzip2.WriterConfig{Level: 1})
	default:
		t.Fatalf("no writer for %v", c)
	}
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, errors.Join(err, w.Close()))
	return buf.Bytes()
}
