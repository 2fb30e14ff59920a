package mapreduce

// None is an output key or value type that writes as nothing: a job whose
// reduce emits (None{}, line) writes just the line, with no tab, in text
// output, and no such column in the others.
type None = struct{}
