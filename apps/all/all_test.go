package all

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// TestImportsEveryApp fails when a package is added under apps/ and not
// here, which would leave it out of both CLIs.
func TestImportsEveryApp(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "all.go", nil, parser.ImportsOnly)
	require.NoError(t, err)
	var imported []string
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		require.NoError(t, err)
		imported = append(imported, p)
	}
	entries, err := os.ReadDir("..")
	require.NoError(t, err)
	var apps int
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "all" || e.Name() == "internal" {
			continue
		}
		apps++
		require.Contains(t, imported, "github.com/quern-dev/quern/apps/"+e.Name())
	}
	require.Equal(t, apps, len(imported), "all.go imports only apps")
}

// TestRegistersTheApps checks the import's effect: the apps are registered.
func TestRegistersTheApps(t *testing.T) {
	for _, name := range []string{"wordcount", "grep", "sort", "topk"} {
		_, ok := mapreduce.Lookup(name)
		require.True(t, ok, name)
	}
	for _, name := range []string{"join", "topwords", "pagerank"} {
		_, ok := pipeline.Lookup(name)
		require.True(t, ok, name)
	}
}
