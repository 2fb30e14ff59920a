#!/usr/bin/env node
// Inverted index mapper: writes "word<TAB>document" once for every distinct
// (word, document) pair of its input. Run it with `--input-key file`: each
// input line then starts with the file it was read from and a tab, so one
// mapper can read a task that packs several small files (Quern, like Hadoop,
// starts one mapper per map task, not per file). The document is the file's
// base name.
const path = require("path");

const pairs = new Set();
let rest = "";

function add(text) {
  for (const line of text.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const doc = path.basename(line.slice(0, tab));
    for (const w of line.slice(tab + 1).split(/[ \t\r\v\f]+/)) {
      if (w !== "") pairs.add(w + "\t" + doc);
    }
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
  for (const p of pairs) lines.push(p + "\n");
  process.stdout.write(lines.join(""), "latin1");
});
