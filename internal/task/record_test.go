package task

import (
	"testing"

	"github.com/stretchr/testify/require"
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

	line := Record{jsonl: true, Value: []byte("not an object")}
	require.False(t, line.HasColumns())
	_, err = line.Text("word")
	require.ErrorIs(t, err, ErrNoColumn)
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
