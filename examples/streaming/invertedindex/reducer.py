#!/usr/bin/env python3
"""Inverted index reducer: reads "word<TAB>document" lines sorted by word and
writes "word<TAB>doc1,doc2,..." with each word's documents sorted, once."""
import sys

out = sys.stdout.buffer
current, docs = None, set()


def write(word, docs):
    out.write(b"%s\t%s\n" % (word, b",".join(sorted(docs))))


for line in sys.stdin.buffer:
    word, _, doc = line.rstrip(b"\n").partition(b"\t")
    if word != current:
        if current is not None:
            write(current, docs)
        current, docs = word, set()
    docs.add(doc)
if current is not None:
    write(current, docs)
