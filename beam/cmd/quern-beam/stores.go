package main

// The object stores, s3:// and gs://, for inputs and outputs: Beam's workers
// on Flink, Spark or Dataflow see no shared disk, so this is where a
// cluster job's data lives.
import _ "github.com/quern-dev/quern/objstore/blobstore"
