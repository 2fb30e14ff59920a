package beamtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// JoinInputs writes users.csv (id, name, city) and orders.csv
// (order_id, user_id, amount) in dir, with users of several rows, orders
// of unknown users and without a user, and returns their paths. Amounts
// are in quarters, which add up exactly in any order (a float sum of cents
// may differ in its last digit with the order of the additions, on any
// two engines or reducer counts).
func JoinInputs(t testing.TB, dir string) (users, orders string) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	cities := []string{"Oslo", "Lima", "Pune, MH", "Quito"}
	var ub, ob strings.Builder
	ub.WriteString("id,name,city\n")
	for id := range 300 {
		for range r.IntN(3) {
			fmt.Fprintf(&ub, "%d,user %d,%q\n", id, id, cities[r.IntN(len(cities))])
		}
	}
	ob.WriteString("order_id,user_id,amount\n")
	for o := range 2000 {
		uid := strconv.Itoa(r.IntN(400))
		if o%17 == 0 {
			uid = ""
		}
		fmt.Fprintf(&ob, "%d,%s,%d.%02d\n", o, uid, r.IntN(100), 25*r.IntN(4))
	}
	users, orders = filepath.Join(dir, "users.csv"), filepath.Join(dir, "orders.csv")
	require.NoError(t, os.WriteFile(users, []byte(ub.String()), 0o644))
	require.NoError(t, os.WriteFile(orders, []byte(ob.String()), 0o644))
	return users, orders
}

// Graph writes a generated R-MAT graph (quern gen graph, 1024 nodes)
// followed by the edges the generator may not make: a repeated edge, a
// self loop, a node without in-edges (7000001), a dangling node (7000003,
// which only has in-edges), a blank line and spaces instead of a tab. It
// returns the file's path, dir/edges.txt.
func Graph(t testing.TB, dir string) string {
	t.Helper()
	path := Generate(t, dir, "edges.txt", "graph", 256<<10, 8)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("7000001\t7000002\n7000001\t7000002\n7000002\t7000002\n\n7000002  7000003\n7000001\t1\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

// Ranks reads pagerank's "node<TAB>rank" output lines.
func Ranks(t testing.TB, lines []string) map[uint64]float64 {
	t.Helper()
	out := make(map[uint64]float64, len(lines))
	for _, line := range lines {
		node, rank, ok := strings.Cut(line, "\t")
		require.True(t, ok, "line %q", line)
		id, err := strconv.ParseUint(node, 10, 64)
		require.NoError(t, err, "line %q", line)
		r, err := strconv.ParseFloat(rank, 64)
		require.NoError(t, err, "line %q", line)
		_, dup := out[id]
		require.False(t, dup, "node %d twice", id)
		out[id] = r
	}
	return out
}

// RanksAgree checks that two pagerank outputs rank the same nodes equally
// to a relative 1e-9: Beam adds a node's shares in another order than the
// local engine, so ranks agree to about 1e-15, not bit for bit.
func RanksAgree(t testing.TB, want, got []string) {
	t.Helper()
	w, g := Ranks(t, want), Ranks(t, got)
	require.Equal(t, len(w), len(g), "nodes")
	for id, wr := range w {
		gr, ok := g[id]
		require.True(t, ok, "node %d missing", id)
		require.LessOrEqual(t, math.Abs(gr-wr), 1e-9*math.Abs(wr), "node %d: rank %v, want %v", id, gr, wr)
	}
}
