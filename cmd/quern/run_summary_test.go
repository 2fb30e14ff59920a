package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

// TestSummaryPrintsWarnings: the summary ends with the job's warnings, an
// empty output's among them (mapreduce TestEmptyOutputWarns), so that a
// job that found nothing does not look done.
func TestSummaryPrintsWarnings(t *testing.T) {
	var b bytes.Buffer
	printSummary(&b, &mapreduce.Result{Job: "wordcount", Warnings: []string{"the input produced no records: the output is empty", "another"}})
	require.Contains(t, b.String(), "  warning: the input produced no records: the output is empty\n  warning: another\n")
}
