package main

// The bundled apps and the example job register themselves at init;
// importing them here makes them runnable as `quern-beam run APP`. The
// worker is this same binary, so every job a pipeline names is registered
// there too. A user's own jobs get onto Beam the same way: a copy of this
// program that imports the user's job package.
import (
	_ "github.com/quern-dev/quern/apps/grep"
	_ "github.com/quern-dev/quern/apps/invertedindex"
	_ "github.com/quern-dev/quern/apps/join"
	_ "github.com/quern-dev/quern/apps/reverselinks"
	_ "github.com/quern-dev/quern/apps/termvector"
	_ "github.com/quern-dev/quern/apps/topk"
	_ "github.com/quern-dev/quern/apps/totalsort"
	_ "github.com/quern-dev/quern/apps/urlcount"
	_ "github.com/quern-dev/quern/apps/wordcount"
	_ "github.com/quern-dev/quern/examples/anagrams"
)
