package main

// The bundled apps register themselves at init; importing them all here
// makes them runnable as `quern run APP` (the named imports are for their
// examples).
import (
	_ "github.com/quern-dev/quern/apps/all"
	"github.com/quern-dev/quern/apps/grep"
	"github.com/quern-dev/quern/apps/invertedindex"
	"github.com/quern-dev/quern/apps/join"
	"github.com/quern-dev/quern/apps/reverselinks"
	"github.com/quern-dev/quern/apps/termvector"
	"github.com/quern-dev/quern/apps/topk"
	"github.com/quern-dev/quern/apps/totalsort"
	"github.com/quern-dev/quern/apps/urlcount"
)

// appExamples holds, by app name, two command lines that generate an app's
// input and run it, for `quern run APP --help`.
var appExamples = map[string]string{
	"wordcount":     "quern gen text --size 16MiB -o corpus.txt\nquern run wordcount --input corpus.txt --output out",
	"grep":          grep.Example,
	"urlcount":      urlcount.Example,
	"topk":          topk.Example,
	"invertedindex": invertedindex.Example,
	"reverselinks":  reverselinks.Example,
	"termvector":    termvector.Example,
	"join":          join.Example,
	"sort":          totalsort.Example,
	"streaming":     streamRunExample,
}
