#!/usr/bin/env node
// Inverted index reducer: reads "word<TAB>document" lines sorted by word and
// writes "word<TAB>doc1,doc2,..." with each word's documents sorted, once.
let current = null;
let docs = new Set();
let rest = "";
const out = [];

function write() {
  out.push(current + "\t" + [...docs].sort().join(",") + "\n");
}

function line(l) {
  const tab = l.indexOf("\t");
  const word = tab < 0 ? l : l.slice(0, tab);
  if (word !== current) {
    if (current !== null) write();
    current = word;
    docs = new Set();
  }
  docs.add(tab < 0 ? "" : l.slice(tab + 1));
}

process.stdin.setEncoding("latin1");
process.stdin.on("data", (chunk) => {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop();
  for (const l of lines) line(l);
  if (out.length > 0) {
    process.stdout.write(out.join(""), "latin1");
    out.length = 0;
  }
});
process.stdin.on("end", () => {
  if (rest !== "") line(rest);
  if (current !== null) write();
  process.stdout.write(out.join(""), "latin1");
});
