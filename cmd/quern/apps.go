package main

// The bundled apps register themselves at init; importing them here makes
// them runnable as `quern run APP`.
import (
	_ "github.com/quern-dev/quern/apps/wordcount"
)
