//go:build !quern_noobjstore

package main

// The object stores: s3:// and gs:// inputs and outputs. They are linked
// here rather than in the core packages, which know only the objstore
// interface, so that a program built on the mapreduce package alone does
// not carry the cloud SDKs.
//
// Built with -tags quern_noobjstore, quern leaves them out: the binary is
// 63 MB instead of 78 MB and 61 fewer package inits run in every process
// (the driver and each worker, which is this binary re-executed). An s3://
// or gs:// path then fails with objstore.ErrNoDriver. See
// docs/architecture.md#object-store-drivers-and-process-weight.
import _ "github.com/quern-dev/quern/objstore/blobstore"
