package exec

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// TestWorkedExample pins the byte example in frame.go and docs/protocol.md.
func TestWorkedExample(t *testing.T) {
	var buf bytes.Buffer
	fw := frameWriter{w: &buf}
	require.NoError(t, fw.writeTask(1, &Task{ID: "m-1", Attempt: 1, Kind: "map", Payload: []byte("hi")}))
	want := []byte{
		0x18, 0, 0, 0,
		0x02,
		1, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0,
		3, 0, 'm', '-', '1',
		3, 0, 'm', 'a', 'p',
		'h', 'i',
	}
	require.Equal(t, want, buf.Bytes())
}

// writeAll writes one frame of every type and returns the messages that a
// reader must decode from them.
func writeAll(t testing.TB, w io.Writer, big []byte) []message {
	fw := frameWriter{w: w}
	require.NoError(t, fw.writeHello(ProtocolVersion, 4242))
	require.NoError(t, fw.writeTask(7, &Task{ID: "reduce-00001", Attempt: 3, Kind: "reduce", Payload: big}))
	require.NoError(t, fw.writeTask(8, &Task{ID: "", Attempt: 1, Kind: "", Payload: nil}))
	require.NoError(t, fw.writeCancel(7))
	require.NoError(t, fw.writeHeartbeat(7, 10, 100, 1<<30, "halfway"))
	require.NoError(t, fw.writeResult(7, 123, big))
	require.NoError(t, fw.writeError(8, true, 5, "boom", []byte("goroutine 1 [running]:")))
	require.NoError(t, fw.writeError(9, false, 0, "", nil))
	require.NoError(t, fw.writeSplit(7))
	require.NoError(t, fw.writeKept(7, []byte("the rest")))
	require.NoError(t, fw.writeKept(8, nil))
	require.NoError(t, fw.writeShutdown())
	return []message{
		{typ: frameHello, version: ProtocolVersion, pid: 4242},
		{typ: frameTask, seq: 7, attempt: 3, id: "reduce-00001", kind: "reduce", payload: big},
		{typ: frameTask, seq: 8, attempt: 1, payload: []byte{}},
		{typ: frameCancel, seq: 7},
		{typ: frameHeartbeat, seq: 7, done: 10, total: 100, peakRSS: 1 << 30, text: "halfway"},
		{typ: frameResult, seq: 7, peakRSS: 123, payload: big},
		{typ: frameError, seq: 8, panic: true, peakRSS: 5, text: "boom", payload: []byte("goroutine 1 [running]:")},
		{typ: frameError, seq: 9, payload: []byte{}},
		{typ: frameSplit, seq: 7},
		{typ: frameKept, seq: 7, payload: []byte("the rest")},
		{typ: frameKept, seq: 8, payload: []byte{}},
		{typ: frameShutdown},
	}
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("payload!"), 1500) // above the one-write threshold
	for _, tc := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"one-byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data-err", iotest.DataErrReader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			want := writeAll(t, &buf, big)
			r := tc.wrap(&buf)
			var hdr [headerSize]byte
			for i, w := range want {
				got, err := readMessage(r, hdr[:])
				require.NoError(t, err, "frame %d", i)
				if len(got.payload) == 0 {
					got.payload = []byte{}
				}
				if len(w.payload) == 0 {
					w.payload = []byte{}
				}
				require.Equal(t, w, got, "frame %d", i)
			}
			_, err := readMessage(r, hdr[:])
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	var buf bytes.Buffer
	fw := frameWriter{w: &buf}
	require.NoError(t, fw.writeResult(1, 2, []byte("result payload")))
	frame := buf.Bytes()
	var hdr [headerSize]byte

	// Every proper prefix is an unexpected EOF, except the empty one.
	for n := 1; n < len(frame); n++ {
		_, err := readMessage(bytes.NewReader(frame[:n]), hdr[:])
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "prefix %d", n)
	}

	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"unknown type", []byte{0, 0, 0, 0, 99}},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, frameResult}},
		{"short heartbeat", []byte{3, 0, 0, 0, frameHeartbeat, 1, 2, 3}},
		{"trailing bytes", []byte{9, 0, 0, 0, frameCancel, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"id longer than body", []byte{14, 0, 0, 0, frameTask, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0}},
		{"error text longer than body", []byte{21, 0, 0, 0, frameError, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readMessage(bytes.NewReader(tc.frame), hdr[:])
			require.ErrorIs(t, err, errFrame)
		})
	}
}

func TestWriteErrors(t *testing.T) {
	fw := frameWriter{w: failWriter{}}
	require.Error(t, fw.writeTask(1, &Task{Payload: make([]byte, 10000)}))
	require.Error(t, fw.writeCancel(1))
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// FuzzReadMessage checks that no input panics the reader, and that a corrupt
// length does not make it allocate far beyond the bytes that really arrive
// (testdata holds such a length, found by this fuzzer).
func FuzzReadMessage(f *testing.F) {
	var buf bytes.Buffer
	writeAll(f, &buf, []byte("xyz"))
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var hdr [headerSize]byte
		r := bytes.NewReader(data)
		for {
			if _, err := readMessage(r, hdr[:]); err != nil {
				return
			}
		}
	})
}

func TestTailBuffer(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	b := &tailBuffer{out: &out, outMu: &mu}
	var all []byte
	for i := range 3000 {
		line := []byte{byte('a' + i%26), '\n'}
		all = append(all, line...)
		_, err := b.Write(line)
		require.NoError(t, err)
	}
	require.Equal(t, string(all), out.String())
	require.Equal(t, string(all[len(all)-tailSize:]), b.String())
	big := bytes.Repeat([]byte("z"), 3*tailSize)
	_, err := b.Write(big)
	require.NoError(t, err)
	require.Equal(t, string(big[:tailSize]), b.String())
}

func BenchmarkFrameRoundTrip(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 64<<10)
	var buf bytes.Buffer
	fw := frameWriter{w: &buf}
	task := &Task{ID: "map-00001", Attempt: 1, Kind: "map", Payload: payload}
	var hdr [headerSize]byte
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := fw.writeTask(1, task); err != nil {
			b.Fatal(err)
		}
		if _, err := readMessage(&buf, hdr[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLargeBodyGrows(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 2_700_000) // > 3 chunks, not a multiple
	var buf bytes.Buffer
	fw := frameWriter{w: &buf}
	require.NoError(t, fw.writeResult(3, 0, big))
	var hdr [headerSize]byte
	m, err := readMessage(iotest.HalfReader(bytes.NewReader(buf.Bytes())), hdr[:])
	require.NoError(t, err)
	require.Equal(t, big, m.payload)

	// The same frame cut short is an unexpected EOF, after reading what came.
	_, err = readMessage(bytes.NewReader(buf.Bytes()[:len(buf.Bytes())-1]), hdr[:])
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
