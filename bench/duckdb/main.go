// Command quern-duckdb-baseline runs the DuckDB side of the Quern benchmark
// suite: word count and ORDER BY over a text file, each written to a file,
// so that the suite can compare DuckDB's answer with Quern's.
//
// It lives in its own module because DuckDB is a large cgo dependency that
// the framework itself must never need to build.
//
//	quern-duckdb-baseline -query wordcount -input corpus.txt -output counts.tsv -threads 2
//	quern-duckdb-baseline -query sort -input records.txt -output sorted.txt -threads 2 -memory 1GiB
//
// With -sql it runs one statement instead and prints its result as JSON
// lines: the column names, then the DuckDB type names, then one array per
// row (LIST as an array, STRUCT as an object, NULL as null). The apps'
// reader test (apps/all TestDuckDBReadsEveryApp) reads Quern's output with
// it, as a user's DuckDB would:
//
//	quern-duckdb-baseline -sql "DESCRIBE SELECT * FROM 'out/*.parquet'"
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	query := flag.String("query", "", "wordcount or sort")
	input := flag.String("input", "", "input text `FILE`")
	output := flag.String("output", "", "output `FILE`")
	threads := flag.Int("threads", 0, "DuckDB threads (0: DuckDB's default)")
	memory := flag.String("memory", "", "DuckDB memory_limit, for example 1GiB (empty: DuckDB's default)")
	tmp := flag.String("tmp-dir", "", "DuckDB temp_directory for spilling")
	sqlText := flag.String("sql", "", "run this `STATEMENT` and print its result as JSON lines")
	flag.Parse()
	if *sqlText != "" {
		if err := printQuery(*sqlText, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "quern-duckdb-baseline:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*query, *input, *output, *threads, *memory, *tmp); err != nil {
		fmt.Fprintln(os.Stderr, "quern-duckdb-baseline:", err)
		os.Exit(1)
	}
}

// lines reads a file as one VARCHAR column per line: no quoting, no header,
// and a delimiter byte that text never holds, so every line is one value.
func lines(path string) string {
	return fmt.Sprintf("read_csv(%s, columns={'line': 'VARCHAR'}, header=false, delim=chr(1), quote='', escape='', auto_detect=false, strict_mode=false)", lit(path))
}

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func run(query, input, output string, threads int, memory, tmp string) error {
	if input == "" || output == "" {
		return fmt.Errorf("-input and -output are required")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection, so that the SET statements apply to the query.
	db.SetMaxOpenConns(1)
	var setup []string
	if threads > 0 {
		setup = append(setup, fmt.Sprintf("SET threads = %d", threads))
	}
	if memory != "" {
		setup = append(setup, "SET memory_limit = "+lit(memory))
	}
	if tmp != "" {
		setup = append(setup, "SET temp_directory = "+lit(tmp))
	}
	// Output order is not asked of DuckDB for word count: the suite
	// normalises every system's answer before comparing.
	setup = append(setup, "SET preserve_insertion_order = false")
	for _, s := range setup {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	var q string
	switch query {
	case "wordcount":
		q = fmt.Sprintf(`COPY (
	SELECT word, count(*) AS n
	FROM (SELECT unnest(regexp_split_to_array(line, '[^A-Za-z]+')) AS word FROM %s)
	WHERE word <> ''
	GROUP BY word
) TO %s (FORMAT csv, HEADER false, DELIMITER '\t', QUOTE '')`, lines(input), lit(output))
	case "sort":
		// Keys are the first 10 bytes; the whole line breaks no ties that
		// matter (keys are random) and keeps the answer deterministic.
		q = fmt.Sprintf(`COPY (SELECT line FROM %s ORDER BY line COLLATE "binary")
TO %s (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER chr(1))`, lines(input), lit(output))
	default:
		return fmt.Errorf("-query must be wordcount or sort, got %q", query)
	}
	if _, err := db.Exec(q); err != nil {
		return fmt.Errorf("%s on %s: %w", query, input, err)
	}
	return nil
}

// printQuery runs q on an in-memory database and writes its column names,
// column types and rows to w, one JSON array a line.
func printQuery(q string, w io.Writer) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	names, typeNames := make([]string, len(types)), make([]string, len(types))
	for i, t := range types {
		names[i], typeNames[i] = t.Name(), t.DatabaseTypeName()
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(names); err != nil {
		return err
	}
	if err := enc.Encode(typeNames); err != nil {
		return err
	}
	cells := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range cells {
		ptrs[i] = &cells[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := enc.Encode(cells); err != nil {
			return err
		}
	}
	return rows.Err()
}
