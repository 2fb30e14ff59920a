package task

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/input"
)

func TestRecordColumnsOfJSONLines(t *testing.T) {
	rec := Record{File: "wc/part-00000.jsonl", jsonl: true,
		Value: []byte(`{"word":"caf` + string(rune(0x10FFE9)) + `","count":12,"tags":["a"]}`)}
	require.True(t, rec.HasColumns())
	require.Equal(t, []string{"word", "count", "tags"}, rec.ColumnNames())
	word, err := rec.Text("word")
	require.NoError(t, err)
	require.Equal(t, "caf\xe9", string(word), "escaped non-UTF-8 bytes come back")
	n, err := rec.Int("count")
	require.NoError(t, err)
	require.Equal(t, int64(12), n)
	tags, err := rec.Text("tags")
	require.NoError(t, err)
	require.Equal(t, `["a"]`, string(tags))

	_, err = rec.Int("hits")
	require.ErrorIs(t, err, ErrNoColumn)
	require.ErrorContains(t, err, `"hits" (columns: word, count, tags)`)
	_, err = rec.Int("word")
	require.ErrorContains(t, err, `column "word"`)

	require.NotErrorIs(t, err, input.ErrColumns, "one line without a member is one bad record, not a bad file")

	line := Record{jsonl: true, Value: []byte("not an object")}
	require.False(t, line.HasColumns())
	_, err = line.Text("word")
	require.ErrorIs(t, err, ErrNoColumn)
	require.NotErrorIs(t, err, input.ErrColumns)
}

// TestMissingColumnOfFile: a column a CSV header does not name, or any
// column of a text line, is missing from every record of the file: the
// error wraps input.ErrColumns, which fails the job at once.
func TestMissingColumnOfFile(t *testing.T) {
	rec := Record{File: "a.csv", Columns: []string{"id", "n"}, Fields: [][]byte{[]byte("7"), []byte("3")}}
	_, err := rec.Int("count")
	require.ErrorIs(t, err, ErrNoColumn)
	require.ErrorIs(t, err, input.ErrColumns)
	// The refusal's text is in the message: Beam gets the error as text.
	require.EqualError(t, err, `input: the file does not have the columns the job reads: mapreduce: no such column "count" (columns: id, n)`)

	line := Record{File: "a.txt", Value: []byte("7,3")}
	_, err = line.Text("id")
	require.ErrorIs(t, err, ErrNoColumn)
	require.ErrorIs(t, err, input.ErrColumns)
}

func TestRecordColumnsOfCSV(t *testing.T) {
	rec := Record{Columns: []string{"id", "n"}, Fields: [][]byte{[]byte("7"), []byte("x")}}
	require.True(t, rec.HasColumns())
	id, err := rec.Int("id")
	require.NoError(t, err)
	require.Equal(t, int64(7), id)
	_, err = rec.Int("n")
	require.Error(t, err)
}
