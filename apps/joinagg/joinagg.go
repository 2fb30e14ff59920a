// Package joinagg is a report that joins two datasets and then aggregates
// (issue #15's third bundled pipeline): the rows of a right input (orders)
// are joined with a left input (users) on key columns, as the join app
// joins them, and the matches are counted and a right column summed per
// value of a left column:
//
//	quern run joinagg -i users.csv -i orders.csv --left users.csv --right orders.csv \
//		--left-key id --right-key user_id --group-by city --sum amount -o by-city
//
// writes "city<TAB>orders<TAB>total amount" lines, one per city that has a
// matching order. --left, --right, --left-key and --right-key are the join
// app's (globs picking each side's files, key columns; see package join).
// --group-by names a column of the left input; --sum a column of the right
// input holding numbers (empty: count only). A row whose sum field is empty
// counts as a match and adds nothing (SQL's SUM skips NULLs); one that is
// not a number fails the task with an error naming the file, the row and
// the field. An inner join: a left row without a match counts nowhere.
//
// Stages: left and right (one per side, each over its own files, side by
// side), each keeping only what the report needs of a row (the group value;
// the amount): a projection before the shuffle; join (a cogroup by key,
// whose pairs of group value and amount are summed per group inside its
// tasks: Combine); total (one group per group value).
package joinagg

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/quern-dev/quern/apps/join"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// Example writes two small CSV files and reports the orders per city.
const Example = `printf 'id,name,city\n1,ada,Oslo\n2,bob,Lima\n3,cy,Oslo\n' > users.csv; printf 'order_id,user_id,amount\n7,1,2.50\n8,1,4\n9,3,1\n10,2,3\n' > orders.csv` + "\n" +
	"quern run joinagg --input users.csv --input orders.csv --left users.csv --right orders.csv --left-key id --right-key user_id --group-by city --sum amount --output by-city"

// Pipeline is the registered joinagg pipeline.
var Pipeline = pipeline.Register("joinagg",
	"join two CSV/TSV/Parquet/Arrow inputs on key columns, then count the matches and sum a right column per value of a left column",
	append(slices.Clone(join.SideParams),
		mapreduce.Param{Name: "group-by", Required: true, Usage: "column of the left input whose values group the report"},
		mapreduce.Param{Name: "sum", Usage: "column of the right input to sum (numbers); empty: count the matches only"},
	),
	func(p *pipeline.Pipeline) {
		groups := join.ReadSide(p, "left", join.SideLeft, column("group-by", func(f []byte) (string, error) { return string(f), nil }))
		amounts := join.ReadSide(p, "right", join.SideRight, column("sum", parseAmount))
		matches := pipeline.Combine(pipeline.CoGroup(groups, amounts, "join", match), add)
		pipeline.Output(pipeline.ReduceByKey(matches, "total", total))
	})

// Total is a group's line of the report: its matches and the sum of their
// amounts.
type Total struct {
	Rows int64   `json:"rows"`
	Sum  float64 `json:"sum"`
}

// String is the text output's value: "rows<TAB>sum".
func (t Total) String() string {
	return strconv.FormatInt(t.Rows, 10) + "\t" + strconv.FormatFloat(t.Sum, 'f', -1, 64)
}

// AppendBinary encodes a Total between stages: the rows as a uvarint, then
// the sum's 8 bytes.
func (t Total) AppendBinary(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(t.Rows))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(t.Sum)), nil
}

// UnmarshalBinary decodes what AppendBinary wrote.
func (t *Total) UnmarshalBinary(b []byte) error {
	rows, n := binary.Uvarint(b)
	if n <= 0 || len(b) != n+8 {
		return fmt.Errorf("joinagg: corrupt total of %d bytes", len(b))
	}
	t.Rows, t.Sum = int64(rows), math.Float64frombits(binary.LittleEndian.Uint64(b[n:]))
	return nil
}

func add(a, b Total) Total { return Total{a.Rows + b.Rows, a.Sum + b.Sum} }

// column returns the projection of a row onto the column its parameter
// names: the field parsed by parse, or the zero value when the parameter is
// empty. A column absent from the file's header is an error listing the
// header's columns.
func column[V any](param string, parse func([]byte) (V, error)) func(*mapreduce.TaskContext, mapreduce.Record, []int) (V, error) {
	return func(tc *mapreduce.TaskContext, rec mapreduce.Record, _ []int) (V, error) {
		var v V
		name := tc.Param(param)
		if name == "" {
			return v, nil
		}
		pos := slices.Index(rec.Columns, name)
		switch {
		case pos < 0:
			return v, fmt.Errorf("--%s %q: no such column in %s (columns: %s): %w", param, name, rec.File, strings.Join(rec.Columns, ", "), input.ErrColumns)
		case pos >= len(rec.Fields):
			return v, nil // a short row: the field is empty
		}
		v, err := parse(rec.Fields[pos])
		if err != nil {
			return v, fmt.Errorf("--%s %q: %w", param, name, err)
		}
		return v, nil
	}
}

// parseAmount reads a number; an empty field adds nothing.
func parseAmount(f []byte) (float64, error) {
	if len(f) == 0 {
		return 0, nil
	}
	x, err := strconv.ParseFloat(string(f), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", f)
	}
	return x, nil
}

// match pairs each right row's amount with every left row's group value
// of the key: one match per pair, as an inner join would make.
func match(_ *mapreduce.TaskContext, _ []byte, groups iter.Seq[string], amounts iter.Seq[float64], emit func(string, Total)) error {
	var gs []string
	for g := range groups {
		gs = append(gs, g)
	}
	if len(gs) == 0 {
		return nil // no left row: the right rows match nothing
	}
	for a := range amounts {
		for _, g := range gs {
			emit(g, Total{Rows: 1, Sum: a})
		}
	}
	return nil
}

func total(_ *mapreduce.TaskContext, _ string, parts iter.Seq[Total], emit func(Total)) error {
	var t Total
	for p := range parts {
		t = add(t, p)
	}
	emit(t)
	return nil
}
