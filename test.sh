#!/usr/bin/env bash
# The project's test command (README, .ci/run): vet, every test of the core
# module, and the race detector over the packages that run goroutines and
# processes concurrently.
set -euo pipefail
cd "$(dirname "$0")"
go vet ./...
go test ./...
go test -race ./exec/ ./shuffle/ ./mapreduce/ ./cmd/quern/
