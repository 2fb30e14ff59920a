package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

// TestSummaryWarnsOfEmptyResults: a job whose input produced no records,
// or whose records produced no output, says so instead of looking done.
func TestSummaryWarnsOfEmptyResults(t *testing.T) {
	summary := func(c mapreduce.Counters) string {
		var b bytes.Buffer
		printSummary(&b, &mapreduce.Result{Job: "wordcount", Counters: c})
		return b.String()
	}
	require.Contains(t, summary(mapreduce.Counters{}), "WARNING: the input produced no records")
	require.Contains(t, summary(mapreduce.Counters{mapreduce.MapInputRecords: 5}), "WARNING: 5 input records produced no output records")
	require.NotContains(t, summary(mapreduce.Counters{mapreduce.MapInputRecords: 5, mapreduce.ReduceOutputRecords: 1}), "WARNING")
}
