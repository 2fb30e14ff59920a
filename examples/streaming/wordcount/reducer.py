#!/usr/bin/env python3
"""Word count reducer (and combiner): reads "word<TAB>count" lines sorted by
word, all lines of a word together, and writes "word<TAB>total"."""
import sys

out = sys.stdout.buffer
current, total = None, 0
for line in sys.stdin.buffer:
    word, _, n = line.rstrip(b"\n").partition(b"\t")
    if word != current:
        if current is not None:
            out.write(b"%s\t%d\n" % (current, total))
        current, total = word, 0
    total += int(n)
if current is not None:
    out.write(b"%s\t%d\n" % (current, total))
