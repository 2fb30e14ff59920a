#!/usr/bin/env node
// Word count reducer (and combiner): reads "word<TAB>count" lines sorted by
// word, all lines of a word together, and writes "word<TAB>total".
let current = null;
let total = 0;
let rest = "";
const out = [];

function line(l) {
  const tab = l.indexOf("\t");
  const word = tab < 0 ? l : l.slice(0, tab);
  if (word !== current) {
    if (current !== null) out.push(current + "\t" + total + "\n");
    current = word;
    total = 0;
  }
  total += tab < 0 ? 0 : parseInt(l.slice(tab + 1), 10);
}

function flush() {
  if (out.length > 0) {
    process.stdout.write(out.join(""), "latin1");
    out.length = 0;
  }
}

process.stdin.setEncoding("latin1");
process.stdin.on("data", (chunk) => {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop();
  for (const l of lines) line(l);
  flush();
});
process.stdin.on("end", () => {
  if (rest !== "") line(rest);
  if (current !== null) out.push(current + "\t" + total + "\n");
  flush();
});
