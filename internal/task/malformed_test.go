package task

import (
	"strings"
	"testing"
)

// TestMalformedWarning: a job warns only when it declares a malformed
// counter and that counter holds every one of its input records.
func TestMalformedWarning(t *testing.T) {
	info := JobInfo{Name: "urlcount", Description: "hits per URL", MalformedCounter: "malformed_lines"}
	for _, tc := range []struct {
		name     string
		info     JobInfo
		counters Counters
		warn     bool
	}{
		{"all malformed", info, Counters{MapInputRecords: 3, "malformed_lines": 3}, true},
		{"some malformed", info, Counters{MapInputRecords: 3, "malformed_lines": 2}, false},
		{"no input", info, Counters{}, false},
		{"no counter declared", JobInfo{Name: "x"}, Counters{MapInputRecords: 3, "malformed_lines": 3}, false},
	} {
		w := MalformedWarning(tc.info, tc.counters)
		if tc.warn != (w != "") {
			t.Errorf("%s: warning %q, want one: %v", tc.name, w, tc.warn)
		}
		if tc.warn && (!strings.Contains(w, "none of its 3 input records (malformed_lines 3)") || !strings.Contains(w, "(hits per URL)")) {
			t.Errorf("%s: warning %q does not say what was read and what the job reads", tc.name, w)
		}
	}
}
