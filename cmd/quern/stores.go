package main

// The object stores: s3:// and gs:// inputs and outputs. They are linked
// here rather than in the core packages, which know only the objstore
// interface, so that a program built on the mapreduce package alone does
// not carry the cloud SDKs.
import _ "github.com/quern-dev/quern/objstore/blobstore"
