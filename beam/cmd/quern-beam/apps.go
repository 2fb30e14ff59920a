package main

// The bundled apps and the example job register themselves at init;
// importing them here makes them runnable as `quern-beam run APP`. The
// worker is this same binary, so every job a pipeline names is registered
// there too. A user's own jobs get onto Beam the same way: a copy of this
// program that imports the user's job package.
import (
	_ "github.com/quern-dev/quern/apps/all"
	_ "github.com/quern-dev/quern/examples/anagrams"
)
