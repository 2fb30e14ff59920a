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
    if (w !== "") counts.set(w, (counts.get(w) || 0) + 1);
  }
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
