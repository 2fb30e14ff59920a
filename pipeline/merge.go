package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// The merged file of a pipeline's output (Config.Merge, `--merge`): every
// output record in global key order, in one file, merged.EXT beside the
// part files, as a job writes it.
//
// A job merges its part files, which are sorted by key because its
// reducers write them in key order. A pipeline's output stage may emit any
// key in any order (topwords writes its words by count), so its parts are
// not merged: each task that writes a part also writes its pairs, encoded,
// into a sort buffer of one partition (taskSpec.Merge), spilled as sorted
// runs in the task's directory; when the last stage has committed, the
// driver merges the committed tasks' runs (shuffle.OpenPartition, in passes
// of the merge fan-in) and decodes them into the merged file. The sort is
// stable and the merge keeps the order of its inputs for equal keys, so
// records with equal keys come in part order, then in their order within
// the part: the order a job's merged file has.

// mergeOutput writes the merged file from the output tasks' runs (d.merged)
// under the output's temporary directory and commits it by rename, as a
// part is committed; it returns its path.
func (d *driver) mergeOutput() (string, error) {
	var segs []shuffle.Segment
	for _, runs := range d.merged {
		for _, r := range runs {
			segs = append(segs, shuffle.Segment{Path: r.Path, Partition: 0})
		}
	}
	comp, err := spill.ParseCompression(d.cfg.SpillCompression)
	if err != nil {
		return "", err
	}
	name := "merged" + d.outOpts.Ext()
	tmp := filepath.Join(d.out.Temp(), name)
	pairs, _, err := shuffle.OpenPartition(segs, shuffle.MergeOptions{FanIn: d.cfg.MergeFanIn, TempDir: d.workDir.Path, Compression: comp})
	if err == nil {
		err = d.p.output.writeMerged(tmp, pairs, d.outOpts)
		if cerr := pairs.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("merge the output into %s: %w", name, err)
	}
	return d.out.CommitPart(tmp, name)
}

// writeDecoded writes the pairs of a sorted iterator, encoded with keys and
// values, as the output file dst.
func writeDecoded[K, V any](dst string, pairs spill.Iterator, opts output.Options, keys mapreduce.Codec[K], values mapreduce.Codec[V]) error {
	w, err := output.Create[K, V](dst, opts)
	if err != nil {
		return err
	}
	for kv := pairs.Next(); kv != nil; kv = pairs.Next() {
		k, err := keys.Decode(kv.Key)
		if err == nil {
			var v V
			if v, err = values.Decode(kv.Value); err == nil {
				err = w.Write(k, v)
			}
		}
		if err != nil {
			w.Abort()
			return err
		}
	}
	if err := pairs.Error(); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
