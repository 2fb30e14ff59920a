#!/usr/bin/env node
// Word count mapper: reads text lines on stdin, writes "word<TAB>count".
//
// It counts in a Map and writes each word once, when its input ends
// (in-mapper combining). Input is read as latin1, which maps every byte to
// one character and back, so any encoding passes through unchanged; words
// are split at ASCII whitespace, as the Python mapper does.
const counts = new Map();
let rest = "";

function countWords(text) {
  for (const w of text.split(/[ \t\n\r\v\f]+/)) {
    if (w === "") continue;
    const n = counts.get(w);
    if (n === undefined) counts.set(own(w), 1);
    else counts.set(w, n + 1);
  }
}

// own returns a copy of a word that does not keep its chunk alive: V8
// makes a long substring (13 characters or more) a view of the string it
// was cut from, so a word kept as a Map key would hold its whole 64 KiB
// chunk in memory, and the mapper would grow with its input rather than
// with its words.
function own(w) {
  return w.length < 13 ? w : (" " + w).slice(1);
}

process.stdin.setEncoding("latin1");
process.stdin.on("data", (chunk) => {
  const text = rest + chunk;
  const end = text.lastIndexOf("\n");
  if (end < 0) {
    rest = text;
    return;
  }
  countWords(text.slice(0, end));
  rest = text.slice(end + 1);
});
process.stdin.on("end", () => {
  countWords(rest);
  const lines = [];
  for (const [w, n] of counts) lines.push(w + "\t" + n + "\n");
  process.stdout.write(lines.join(""), "latin1");
});
