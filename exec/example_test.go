package exec_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/quern-dev/quern/exec"
)

// A binary that runs tasks in workers: the same main serves as driver and,
// re-executed by the pool, as worker. (Not run by go test: it would re-execute
// the test binary, whose TestMain already plays both parts.)
func Example() {
	handler := func(ctx context.Context, t exec.Task) (exec.Result, error) {
		exec.Progress(ctx, 1, 1)
		return exec.Result{Payload: append([]byte("done: "), t.Payload...)}, nil
	}
	// At the top of main:
	if exec.IsWorker() {
		if err := exec.Serve(handler); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}

	ctx := context.Background()
	pool, err := exec.StartPool(ctx, exec.PoolOptions{Workers: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer pool.Close()

	res, err := pool.Run(ctx, exec.Task{ID: "map-00000", Attempt: 1, Kind: "map", Payload: []byte("split 0")})
	var te *exec.TaskError
	var we *exec.WorkerError
	switch {
	case errors.As(err, &te):
		fmt.Println("handler failed:", te.Message) // worker still alive
	case errors.As(err, &we):
		fmt.Println("worker died:", we.Signal, we.StderrTail) // already replaced
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(string(res.Payload))
	}
}
