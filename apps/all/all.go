// Package all registers every bundled app. Import it for its side effect,
// as a program that runs any of them by name does:
//
//	import _ "github.com/quern-dev/quern/apps/all"
//
// A worker is the same binary as its driver, so whatever it registers is
// registered in the workers too.
package all

import (
	_ "github.com/quern-dev/quern/apps/grep"
	_ "github.com/quern-dev/quern/apps/invertedindex"
	_ "github.com/quern-dev/quern/apps/join"
	_ "github.com/quern-dev/quern/apps/joinagg"
	_ "github.com/quern-dev/quern/apps/pagerank"
	_ "github.com/quern-dev/quern/apps/reverselinks"
	_ "github.com/quern-dev/quern/apps/termvector"
	_ "github.com/quern-dev/quern/apps/topk"
	_ "github.com/quern-dev/quern/apps/topwords"
	_ "github.com/quern-dev/quern/apps/totalsort"
	_ "github.com/quern-dev/quern/apps/urlcount"
	_ "github.com/quern-dev/quern/apps/wordcount"
)
