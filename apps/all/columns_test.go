package all

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// appColumns says, for one bundled app, what its columnar output must look
// like: the schema a user sees in DuckDB or pandas, and how a row of it
// reads as the app's text output line.
type appColumns struct {
	app    string
	input  func(t *testing.T, dir string) []string
	params map[string]string
	// schema is "name: type, ..." in Arrow's type names; duckdb is
	// "name TYPE, ..." as DuckDB's DESCRIBE gives them.
	schema, duckdb string
	// line renders a row, one Go value per column as Arrow's
	// GetOneForMarshal gives it, as the text output writes it.
	line func(cells []any) string
}

func gen(kind string, size int64) func(t *testing.T, dir string) []string {
	return func(t *testing.T, dir string) []string {
		return []string{apptest.Generate(t, dir, kind+".txt", kind, size, 7)}
	}
}

// jsonNoEscape is JSON as the apps' text output writes it: no HTML escapes.
func jsonNoEscape(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func listOf[T any](cell any) []T {
	var out []T
	if err := json.Unmarshal(cell.(json.RawMessage), &out); err != nil {
		panic(err)
	}
	return out
}

var columnCases = []appColumns{
	{
		app: "wordcount", input: gen("text", 48<<10),
		schema: "word: utf8, count: int64", duckdb: "word VARCHAR, count BIGINT",
		line: func(c []any) string { return fmt.Sprintf("%s\t%d", c[0], c[1]) },
	},
	{
		app: "urlcount", input: gen("logs", 48<<10),
		schema: "url: utf8, hits: int64", duckdb: "url VARCHAR, hits BIGINT",
		line: func(c []any) string { return fmt.Sprintf("%s\t%d", c[0], c[1]) },
	},
	{
		app: "grep", input: gen("text", 48<<10), params: map[string]string{"pattern": "qu[ae]"},
		schema: "file: utf8, offset: int64, line: utf8", duckdb: "file VARCHAR, offset BIGINT, line VARCHAR",
		line: func(c []any) string { return fmt.Sprintf("%s:%d\t%s", c[0], c[1], c[2]) },
	},
	{
		app: "invertedindex",
		input: func(t *testing.T, dir string) []string {
			return []string{
				apptest.Generate(t, dir, "a.txt", "text", 16<<10, 1),
				apptest.Generate(t, dir, "b.txt", "text", 16<<10, 2),
			}
		},
		schema: "term: utf8, documents: int64, postings: list<element: utf8>",
		duckdb: "term VARCHAR, documents BIGINT, postings VARCHAR[]",
		line: func(c []any) string {
			return fmt.Sprintf("%s\t%d\t%s", c[0], c[1], jsonNoEscape(listOf[string](c[2])))
		},
	},
	{
		app: "termvector", input: gen("html", 48<<10), params: map[string]string{"top": "3"},
		schema: "host: utf8, terms: list<element: struct<term: utf8, count: int64>>",
		duckdb: "host VARCHAR, terms STRUCT(term VARCHAR, count BIGINT)[]",
		line: func(c []any) string {
			var parts []string
			for _, tc := range listOf[struct {
				Term  string
				Count int64
			}](c[1]) {
				parts = append(parts, fmt.Sprintf("%s:%d", tc.Term, tc.Count))
			}
			return fmt.Sprintf("%s\t%s", c[0], strings.Join(parts, ","))
		},
	},
	{
		app: "reverselinks", input: gen("html", 48<<10),
		schema: "target: utf8, sources: list<element: utf8>", duckdb: "target VARCHAR, sources VARCHAR[]",
		line: func(c []any) string {
			return fmt.Sprintf("%s\t%s", c[0], jsonNoEscape(listOf[string](c[1])))
		},
	},
	{
		app: "sort", input: gen("gensort", 20<<10),
		schema: "record: utf8", duckdb: "record VARCHAR",
		line: func(c []any) string { return fmt.Sprint(c[0]) },
	},
	{
		app: "join", input: joinInput,
		params: map[string]string{"left": "users.csv", "right": "orders.csv", "left-key": "id", "right-key": "user_id"},
		schema: "key: utf8, id: utf8, name: utf8, order_id: utf8, item: utf8",
		duckdb: "key VARCHAR, id VARCHAR, name VARCHAR, order_id VARCHAR, item VARCHAR",
		line: func(c []any) string {
			var fields []string
			for _, f := range c {
				fields = append(fields, fmt.Sprint(f))
			}
			return strings.Join(fields, "\t")
		},
	},
}

// joinInput writes two CSV files for join: users (id, name) and orders
// (order_id, user_id, item), some users with several orders, some with none.
func joinInput(t *testing.T, dir string) []string {
	users, orders := "id,name\n", "order_id,user_id,item\n"
	for i := range 40 {
		users += fmt.Sprintf("%d,user %d\n", i, i)
		for j := range i % 3 {
			orders += fmt.Sprintf("%d,%d,item %d\n", 100*i+j, i, j)
		}
	}
	paths := []string{filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")}
	require.NoError(t, os.WriteFile(paths[0], []byte(users), 0o644))
	require.NoError(t, os.WriteFile(paths[1], []byte(orders), 0o644))
	return paths
}

// runApp runs the named app with one reducer and returns its part file.
func runApp(t *testing.T, app string, inputs []string, params map[string]string, format string) string {
	t.Helper()
	return runAppWith(t, app, mapreduce.Config{Inputs: inputs, Params: params}, format)
}

// runAppWith is runApp with the inputs, parameters and input format of cfg.
func runAppWith(t *testing.T, app string, cfg mapreduce.Config, format string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	cfg.Engine, cfg.Output, cfg.Reducers = mapreduce.EngineInline, out, 1
	cfg.TmpDir, cfg.OutputFormat = t.TempDir(), format
	var err error
	if p, ok := pipeline.Lookup(app); ok {
		_, err = p.Run(context.Background(), cfg)
	} else {
		_, err = mapreduce.RunNamed(context.Background(), app, cfg)
	}
	require.NoError(t, err)
	parts, err := filepath.Glob(filepath.Join(out, "part-00000*"))
	require.NoError(t, err)
	require.Len(t, parts, 1)
	return parts[0]
}

// textLines runs c's app on inputs with text output and returns its
// lines, the answer the other formats are checked against.
func textLines(t *testing.T, c appColumns, inputs []string) []string {
	t.Helper()
	text, err := os.ReadFile(runApp(t, c.app, inputs, c.params, "text"))
	require.NoError(t, err)
	want := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	require.NotEmpty(t, want[0], "the text output is empty: no test")
	return want
}

// readTable reads a Parquet file with pqarrow or an Arrow IPC file with
// ipc's file reader: Arrow's own readers, not Quern's output.Open.
func readTable(t *testing.T, path string) (*arrow.Schema, [][]any) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var recs []arrow.RecordBatch
	var schema *arrow.Schema
	if strings.HasSuffix(path, ".parquet") {
		tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		require.NoError(t, err)
		defer tbl.Release()
		schema = tbl.Schema()
		tr := array.NewTableReader(tbl, 1<<20)
		defer tr.Release()
		for tr.Next() {
			rec := tr.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
	} else {
		fr, err := ipc.NewFileReader(f)
		require.NoError(t, err)
		defer fr.Close()
		schema = fr.Schema()
		for i := range fr.NumRecords() {
			rec, err := fr.RecordBatch(i)
			require.NoError(t, err)
			rec.Retain()
			recs = append(recs, rec)
		}
	}
	var rows [][]any
	for _, rec := range recs {
		for i := range int(rec.NumRows()) {
			var row []any
			for _, col := range rec.Columns() {
				cell := col.GetOneForMarshal(i)
				switch col.(type) {
				case *array.List:
					b, err := json.Marshal(cell)
					require.NoError(t, err)
					cell = json.RawMessage(b)
				}
				row = append(row, cell)
			}
			rows = append(rows, row)
		}
		rec.Release()
	}
	return schema, rows
}

func schemaString(s *arrow.Schema) string {
	var parts []string
	for _, f := range s.Fields() {
		parts = append(parts, f.Name+": "+f.Type.String())
	}
	return strings.Join(parts, ", ")
}

// TestColumnarOutputOfEveryApp reads each bundled app's Parquet and Arrow
// output with Arrow's own Go readers and checks the column names and types
// a user would query, and that every row holds what the text output line
// says.
func TestColumnarOutputOfEveryApp(t *testing.T) {
	for _, c := range columnCases {
		t.Run(c.app, func(t *testing.T) {
			inputs := c.input(t, t.TempDir())
			want := textLines(t, c, inputs)
			var names []string
			for _, format := range []string{"parquet", "arrow"} {
				schema, rows := readTable(t, runApp(t, c.app, inputs, c.params, format))
				require.Equal(t, c.schema, schemaString(schema), format)
				var got []string
				for _, row := range rows {
					got = append(got, c.line(row))
				}
				require.Equal(t, want, got, format)
				names = names[:0]
				for _, f := range schema.Fields() {
					names = append(names, f.Name)
				}
			}
			// JSON lines: the same members, text as JSON strings.
			jsonl, err := os.ReadFile(runApp(t, c.app, inputs, c.params, "jsonl"))
			require.NoError(t, err)
			var got []string
			for line := range bytes.Lines(jsonl) {
				var members map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(line, &members))
				require.Len(t, members, len(names), "%s", line)
				var cells []any
				for _, name := range names {
					raw := members[name]
					require.NotNil(t, raw, "no member %q in %s", name, line)
					switch raw[0] {
					case '[':
						cells = append(cells, raw)
					case '"':
						var s string
						require.NoError(t, json.Unmarshal(raw, &s))
						cells = append(cells, s)
					default:
						var n int64
						require.NoError(t, json.Unmarshal(raw, &n), "%s in %s", name, line)
						cells = append(cells, n)
					}
				}
				got = append(got, c.line(cells))
			}
			require.Equal(t, want, got, "jsonl")
		})
	}
}

// TestWordcountIntoTopk feeds word count's output folder, in every output
// format, into topk: the answer must be the same as from text, since topk
// reads the word and count columns of JSON lines, Parquet and Arrow rows.
func TestWordcountIntoTopk(t *testing.T) {
	inputs := gen("text", 48<<10)(t, t.TempDir())
	topk := func(format string) string {
		counts := filepath.Dir(runApp(t, "wordcount", inputs, nil, format))
		top, err := os.ReadFile(runApp(t, "topk", []string{counts}, map[string]string{"k": "7"}, "text"))
		require.NoError(t, err)
		return string(top)
	}
	want := topk("text")
	require.Len(t, strings.Split(strings.TrimSpace(want), "\n"), 7)
	for _, format := range []string{"jsonl", "parquet", "arrow"} {
		require.Equal(t, want, topk(format), format)
	}

	// A column the input does not have is an error naming it and the
	// columns there are, not a silent count of 1 per row.
	counts := filepath.Dir(runApp(t, "wordcount", inputs, nil, "parquet"))
	_, err := mapreduce.RunNamed(context.Background(), "topk", mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{counts}, Output: filepath.Join(t.TempDir(), "out"),
		TmpDir: t.TempDir(), Params: map[string]string{"count-column": "hits"},
	})
	require.ErrorIs(t, err, mapreduce.ErrNoColumn)
	require.ErrorContains(t, err, `"hits" (columns: word, count)`)
}
