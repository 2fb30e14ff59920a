#!/usr/bin/env python3
"""Word count mapper: reads text lines on stdin, writes "word<TAB>count".

It counts in a dict and writes each word once, when its input ends
(in-mapper combining): a word count's output is then a few thousand lines
rather than one per word, which is what a Streaming user does to keep the
shuffle small. Words are split at ASCII whitespace, on bytes, so any input
encoding passes through.
"""
import sys
from collections import Counter

counts = Counter()
for line in sys.stdin.buffer:
    counts.update(line.split())

out = sys.stdout.buffer
for word, n in counts.items():
    out.write(b"%s\t%d\n" % (word, n))
