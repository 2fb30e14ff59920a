package joinagg_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/joinagg"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// writeInputs writes users.csv (id, name, city) and orders.csv (order_id,
// user_id, amount): some users with several rows (each of their orders
// matches every one), some orders of unknown users, some without a user or
// an amount. It returns the paths and the reference report: per city, the
// matches and the sum of their amounts, computed by a nested loop.
func writeInputs(t *testing.T, dir string) ([]string, map[string]joinagg.Total) {
	r := rand.New(rand.NewPCG(3, 4))
	cities := []string{"Oslo", "Lima", "Pune, MH", "Quito"}
	type user struct{ id, city string }
	var users []user
	var ub strings.Builder
	ub.WriteString("id,name,city\n")
	for id := range 300 {
		for range r.IntN(3) {
			u := user{strconv.Itoa(id), cities[r.IntN(len(cities))]}
			users = append(users, u)
			fmt.Fprintf(&ub, "%s,user %d,%q\n", u.id, id, u.city)
		}
	}
	want := map[string]joinagg.Total{}
	var ob strings.Builder
	ob.WriteString("order_id,user_id,amount\n")
	for o := range 2000 {
		uid, amount := strconv.Itoa(r.IntN(400)), fmt.Sprintf("%d.%02d", r.IntN(100), r.IntN(100))
		switch {
		case o%17 == 0:
			uid = ""
		case o%13 == 0:
			amount = ""
		}
		fmt.Fprintf(&ob, "%d,%s,%s\n", o, uid, amount)
		if uid == "" {
			continue
		}
		x, _ := strconv.ParseFloat(amount, 64)
		if amount == "" {
			x = 0
		}
		for _, u := range users {
			if u.id == uid {
				t := want[u.city]
				want[u.city] = joinagg.Total{Rows: t.Rows + 1, Sum: t.Sum + x}
			}
		}
	}
	paths := []string{filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")}
	require.NoError(t, os.WriteFile(paths[0], []byte(ub.String()), 0o644))
	require.NoError(t, os.WriteFile(paths[1], []byte(ob.String()), 0o644))
	return paths, want
}

var params = map[string]string{"left": "users.csv", "right": "orders.csv", "left-key": "id", "right-key": "user_id",
	"group-by": "city", "sum": "amount"}

// TestJoinAgg runs the report on both engines (byte-identical parts) and
// compares it with the nested-loop reference: counts exactly, sums within
// a relative 1e-9 (the stages add in another order). It checks from the
// counters that the join's pairs were combined in its tasks before the
// shuffle to the total stage.
func TestJoinAgg(t *testing.T) {
	inputs, want := writeInputs(t, t.TempDir())
	res, parts := apptest.RunPipeline(t, joinagg.Pipeline, inputs, apptest.Small, params)
	got := map[string]joinagg.Total{}
	for _, line := range apptest.Lines(parts) {
		f := strings.Split(line, "\t")
		require.Len(t, f, 3, line)
		rows, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		sum, err := strconv.ParseFloat(f[2], 64)
		require.NoError(t, err)
		got[f[0]] = joinagg.Total{Rows: rows, Sum: sum}
	}
	require.Len(t, got, len(want))
	for city, w := range want {
		require.Equal(t, w.Rows, got[city].Rows, city)
		require.InDelta(t, w.Sum, got[city].Sum, 1e-9*math.Abs(w.Sum), city)
	}
	var join mapreduce.Counters
	for _, s := range res.Stages {
		if s.Name == "join" {
			join = s.Counters
		}
	}
	require.Less(t, join[mapreduce.CombineOutputRecords], join[mapreduce.CombineInputRecords]/10, "pairs combined per city")
}

// TestBadAmount checks that an amount that is not a number fails the
// pipeline with an error naming the stage, the file and the field.
func TestBadAmount(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), []byte("id,city\n1,Oslo\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "orders.csv"), []byte("user_id,amount\n1,2\n1,two\n"), 0o644))
	_, err := joinagg.Pipeline.Run(context.Background(), mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{dir}, Output: filepath.Join(t.TempDir(), "out"),
		TmpDir: t.TempDir(), MaxAttempts: 1, Params: params,
	})
	require.ErrorContains(t, err, "stage right failed")
	require.ErrorContains(t, err, "orders.csv")
	require.ErrorContains(t, err, `--sum "amount": "two" is not a number`)
}

// TestMissingColumnFailsAtOnce: a --sum column the right side's header
// does not name fails the pipeline at once on both engines, as an input
// problem (ErrConfig: exit status 2) naming the flag and the file, not
// after four attempts of each task; and no attempt is logged as failed,
// as none is retried.
func TestMissingColumnFailsAtOnce(t *testing.T) {
	inputs, _ := writeInputs(t, t.TempDir())
	bad := maps.Clone(params)
	bad["sum"] = "total"
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			var logged bytes.Buffer
			out := filepath.Join(t.TempDir(), "out")
			_, err := joinagg.Pipeline.Run(context.Background(), mapreduce.Config{
				Engine: engine, Inputs: inputs, Output: out, TmpDir: t.TempDir(), Workers: 2,
				Params: bad, Logger: slog.New(slog.NewTextHandler(&logged, nil)),
			})
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, `--sum "total": no such column in `+inputs[1])
			require.NotContains(t, err.Error(), "attempt(s)", "retried")
			require.NotContains(t, logged.String(), "attempt failed")
			require.NoFileExists(t, filepath.Join(out, "_SUCCESS"))
		})
	}
}
