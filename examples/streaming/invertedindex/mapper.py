#!/usr/bin/env python3
"""Inverted index mapper: writes "word<TAB>document" once for every distinct
(word, document) pair of its input. Run it with `--input-key file`: each
input line then starts with the file it was read from and a tab, so one
mapper can read a task that packs several small files (Quern, like Hadoop,
starts one mapper per map task, not per file). The document is the file's
base name."""
import os
import sys

pairs = set()
for line in sys.stdin.buffer:
    path, _, text = line.partition(b"\t")
    doc = os.path.basename(path)
    for word in text.split():
        pairs.add((word, doc))

out = sys.stdout.buffer
for word, doc in pairs:
    out.write(b"%s\t%s\n" % (word, doc))
