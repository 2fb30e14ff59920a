package all

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildDuckDB builds the bench/duckdb module (its -sql mode runs one
// statement and prints the result as JSON lines) into a temporary folder and
// returns the binary. DuckDB's Go module ships prebuilt static libraries for
// each platform, so the build compiles no C++: the first build on a machine
// downloads about 140 MB of modules and takes about 40 s; later ones link
// from the build cache in a few seconds. It needs a C compiler (cgo), as
// `quern bench` does for its DuckDB baseline. The test fails, never skips,
// without one: a reader test that can skip proves nothing in CI.
func buildDuckDB(t *testing.T) string {
	t.Helper()
	// The go command is there wherever go test built this test, except in
	// a test binary built for another system (Windows, run under Wine).
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("building DuckDB (bench/duckdb) needs the go command, not on PATH here: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "quern-duckdb")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "bench", "duckdb")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build DuckDB (bench/duckdb; needs cgo with a C/C++ compiler and the Go module proxy):\n%s", out)
	return bin
}

// duckQuery runs one SQL statement with DuckDB and returns the result's
// column types and rows, each row's cells as JSON.
func duckQuery(t *testing.T, duckdb, query string) (names, types []string, rows [][]json.RawMessage) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(duckdb, "-sql", query)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s\n%s", query, stderr.String())
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for i := 0; sc.Scan(); i++ {
		switch i {
		case 0:
			require.NoError(t, json.Unmarshal(sc.Bytes(), &names))
		case 1:
			require.NoError(t, json.Unmarshal(sc.Bytes(), &types))
		default:
			var row []json.RawMessage
			require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
			rows = append(rows, row)
		}
	}
	require.NoError(t, sc.Err())
	return names, types, rows
}

// TestDuckDBReadsEveryApp reads each bundled app's Parquet and JSON lines
// output with DuckDB, as a data engineer's next step would, and checks the
// columns DESCRIBE reports (names and SQL types: VARCHAR for text, BIGINT
// for counts, lists and structs as such) and every row against the app's
// text output. DuckDB has no reader of Arrow IPC files without an extension
// it would download; Arrow output is read by Arrow's own readers in
// TestColumnarOutputOfEveryApp.
func TestDuckDBReadsEveryApp(t *testing.T) {
	duckdb := buildDuckDB(t)
	for _, c := range columnCases {
		t.Run(c.app, func(t *testing.T) {
			inputs := c.input(t, t.TempDir())
			want := textLines(t, c, inputs)
			for format, reader := range map[string]string{"parquet": "read_parquet", "jsonl": "read_json"} {
				from := fmt.Sprintf("%s('%s')", reader, runApp(t, c.app, inputs, c.params, format))
				_, _, desc := duckQuery(t, duckdb, "DESCRIBE SELECT * FROM "+from)
				var cols []string
				for _, d := range desc {
					var name, typ string
					require.NoError(t, json.Unmarshal(d[0], &name))
					require.NoError(t, json.Unmarshal(d[1], &typ))
					cols = append(cols, name+" "+typ)
				}
				require.Equal(t, c.duckdb, strings.Join(cols, ", "), format)

				_, types, rows := duckQuery(t, duckdb, "SELECT * FROM "+from)
				var got []string
				for _, row := range rows {
					got = append(got, c.line(duckCells(t, types, row)))
				}
				require.Equal(t, want, got, format)
			}
		})
	}
}

// duckCells turns a DuckDB row into the Go values the columnCases' line
// functions take (Arrow's GetOneForMarshal form): a string for VARCHAR, an
// int64 for BIGINT, the JSON of a list.
func duckCells(t *testing.T, types []string, row []json.RawMessage) []any {
	t.Helper()
	cells := make([]any, len(row))
	for i, raw := range row {
		switch {
		case types[i] == "VARCHAR":
			var s string
			require.NoError(t, json.Unmarshal(raw, &s))
			cells[i] = s
		case types[i] == "BIGINT":
			var n int64
			require.NoError(t, json.Unmarshal(raw, &n))
			cells[i] = n
		case strings.HasSuffix(types[i], "[]"):
			cells[i] = raw
		default:
			t.Fatalf("column %d: DuckDB type %s that no bundled app should write", i, types[i])
		}
	}
	return cells
}
