//go:build unix

package invertedindex_test

// oddName is a document name that needs escaping in the JSON list of
// documents (a quote) and quoting in a comma-separated --input (a comma).
const oddName = `odd, "name".txt`
