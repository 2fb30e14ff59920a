package invertedindex_test

// oddName: Windows forbids '"' in file names, so the JSON escape of a
// quote in a document's name is tested on Unix only; the comma stays.
const oddName = `odd, 'name'.txt`
