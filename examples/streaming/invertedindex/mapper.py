#!/usr/bin/env python3
"""Inverted index mapper: writes "word<TAB>document" once for every distinct
word of the input file it reads. The document is the base name of the file,
which Streaming puts in the environment (mapreduce_map_input_file, as Hadoop
does); Quern starts one mapper per file, so a task that reads several small
files gives each its own mapper."""
import os
import sys

doc = os.path.basename(os.environ.get("mapreduce_map_input_file", "")).encode()
words = set()
for line in sys.stdin.buffer:
    words.update(line.split())

out = sys.stdout.buffer
for word in words:
    out.write(b"%s\t%s\n" % (word, doc))
