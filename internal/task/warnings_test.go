package task

import (
	"strings"
	"testing"
)

// TestWarnings: a job warns that it read nothing only when it declares a
// malformed counter and that counter holds every one of its input records,
// and warns of each of its WarnCounters that is above zero, with the count
// and the job's text.
func TestWarnings(t *testing.T) {
	urlcount := JobInfo{Name: "urlcount", Description: "hits per URL", MalformedCounter: "malformed_lines"}
	wordcount := JobInfo{Name: "wordcount", WarnCounters: map[string]string{"non_utf8_bytes": "is it Latin-1?", "other": "x"}}
	for _, tc := range []struct {
		name     string
		info     JobInfo
		counters Counters
		want     []string // what each warning holds; nil for none
	}{
		{"all malformed", urlcount, Counters{MapInputRecords: 3, "malformed_lines": 3},
			[]string{"none of its 3 input records (malformed_lines 3)", "(hits per URL)"}},
		{"some malformed", urlcount, Counters{MapInputRecords: 3, "malformed_lines": 2}, nil},
		{"no input", urlcount, Counters{}, nil},
		{"no counter declared", JobInfo{Name: "x"}, Counters{MapInputRecords: 3, "malformed_lines": 3}, nil},
		{"warn counter above zero", wordcount, Counters{MapInputRecords: 3, "non_utf8_bytes": 7},
			[]string{"wordcount: non_utf8_bytes 7: is it Latin-1?"}},
		{"warn counter at zero", wordcount, Counters{MapInputRecords: 3}, nil},
	} {
		ws := Warnings(tc.info, tc.counters)
		if (tc.want == nil) != (len(ws) == 0) || len(ws) > 1 {
			t.Errorf("%s: warnings %q, want one: %v", tc.name, ws, tc.want != nil)
			continue
		}
		for _, part := range tc.want {
			if !strings.Contains(ws[0], part) {
				t.Errorf("%s: warning %q does not say %q", tc.name, ws[0], part)
			}
		}
	}
}
