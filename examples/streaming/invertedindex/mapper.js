#!/usr/bin/env node
// Inverted index mapper: writes "word<TAB>document" once for every distinct
// word of the input file it reads. The document is the base name of the
// file, from the environment (mapreduce_map_input_file, as in Hadoop).
const path = require("path");

const doc = path.basename(process.env.mapreduce_map_input_file || "");
const words = new Set();
let rest = "";

function add(text) {
  for (const w of text.split(/[ \t\n\r\v\f]+/)) {
    if (w !== "") words.add(w);
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
  add(text.slice(0, end));
  rest = text.slice(end + 1);
});
process.stdin.on("end", () => {
  add(rest);
  const lines = [];
  for (const w of words) lines.push(w + "\t" + doc + "\n");
  process.stdout.write(lines.join(""), "latin1");
});
