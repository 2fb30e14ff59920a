package beamtest

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
)

// StartPrism starts the process's in-process Prism job server, as the
// first pipeline run on prism.Execute does, by running a pipeline of one
// impulse; call it in TestMain after beam.Init.
//
// Why: Prism sets Beam's endpoint flag when it starts its job server, on
// the goroutine that runs that first pipeline, so beamjob's launcher
// cannot know the endpoint during that run, and a Ctrl-C then cancels the
// job only after Beam's launcher has returned and stopped the loopback
// workers (see beamjob's runPipeline). Tests of cancellation on Prism must
// see the endpoint from the start, whichever test runs first.
func StartPrism() {
	if *jobopts.Endpoint != "" {
		return
	}
	p, s := beam.NewPipelineWithRoot()
	beam.Impulse(s)
	if _, err := prism.Execute(context.Background(), p); err != nil {
		panic("beamtest: starting Prism: " + err.Error())
	}
}
