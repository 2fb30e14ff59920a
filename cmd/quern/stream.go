package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/streaming"
)

// streamExample is shown by `quern stream --help`, and streamRunExample by
// `quern run streaming --help`; the tests run both as printed. Shell tools
// are the mapper and reducer, so that they need nothing but the input they
// generate.
const (
	streamInput      = "quern gen text --size 1MiB --output corpus.txt\n"
	streamFlags      = `--input corpus.txt --output counts --mapper 'tr -cs A-Za-z "\n"' --reducer 'uniq -c'`
	streamExample    = streamInput + "quern stream " + streamFlags
	streamRunExample = streamInput + "quern run streaming " + streamFlags
)

// streamCommand is `quern stream`: the registered Streaming job (package
// streaming) with Hadoop Streaming's flags. It is `quern run streaming` with
// two differences: --file may be repeated, and --reducers 0 makes a map-only
// job, whose output is the mapper's lines.
func streamCommand() *cli.Command {
	info, ok := mapreduce.Lookup(streaming.JobName)
	if !ok {
		panic("streaming job not registered")
	}
	cmd := jobCommand(info)
	cmd.Name = "stream"
	cmd.Usage = "run any programs as mapper, combiner and reducer (Hadoop Streaming: lines on stdin, key<TAB>value lines on stdout)"
	cmd.Description = "Example:\n\n   " + strings.ReplaceAll(streamExample, "\n", "\n   ") +
		"\n\nPrograms run directly, or with sh -c if they use shell syntax (quotes, $, pipes, redirections),\n" +
		"in a working folder of their task, where --file ships helper files;\n" +
		"docs/guide.md (section 9) lists their environment and the stderr reporter lines;\n" +
		"examples/streaming holds word count and an inverted index in Python and Node.js."
	for i, f := range cmd.Flags {
		switch f.Names()[0] {
		case streaming.ParamFiles:
			cmd.Flags[i] = &cli.StringSliceFlag{Name: streaming.ParamFiles, Category: "App options",
				Usage: "a `FILE` to ship into each task's working folder (repeat, or separate by commas)"}
		case "reducers":
			cmd.Flags[i] = &cli.IntFlag{Name: "reducers", Category: "Common options", DefaultText: "as many as --workers",
				Usage: "reduce tasks and part files; 0: a map-only job, whose output is the mapper's lines"}
		}
	}
	cmd.Action = func(ctx context.Context, cmd *cli.Command) error {
		mapOnly := cmd.IsSet("reducers") && cmd.Int("reducers") == 0
		if mapOnly && cmd.String(streaming.ParamReducer) != "" {
			return usagef("--reducers 0 is a map-only job: drop --reducer (or give a number of reducers)")
		}
		if mapOnly && cmd.String(streaming.ParamCombiner) != "" {
			// Hadoop runs no combiner without reducers, silently: the
			// output would not be what the command line says.
			return usagef("--reducers 0 is a map-only job, whose output is the mapper's lines: drop --combiner (or give a number of reducers)")
		}
		if err := streaming.CheckInputKey(cmd.String(streaming.ParamInputKey)); err != nil {
			return usagef("--%s: %v", streaming.ParamInputKey, err)
		}
		files, err := shippedFiles(cmd.StringSlice(streaming.ParamFiles))
		if err != nil {
			return err
		}
		if err := streaming.CheckPrograms(streaming.Commands{Mapper: cmd.String(streaming.ParamMapper),
			Combiner: cmd.String(streaming.ParamCombiner), Reducer: cmd.String(streaming.ParamReducer),
			Files: strings.Split(files, ",")}); err != nil {
			return err
		}
		cfg, err := configFrom(cmd, info)
		if err != nil {
			return err
		}
		delete(cfg.Params, streaming.ParamFiles)
		if files != "" {
			cfg.Params[streaming.ParamFiles] = files
		}
		return runConfigured(ctx, cmd, info.Name, cfg)
	}
	return cmd
}

// shippedFiles checks the --file arguments and joins their absolute paths
// with commas: workers resolve them from wherever they run.
func shippedFiles(args []string) (string, error) {
	var files []string
	for _, arg := range args {
		for _, f := range strings.Split(arg, ",") {
			if f == "" {
				continue
			}
			abs, err := filepath.Abs(f)
			if err != nil {
				return "", usagef("--file %s: %v", f, err)
			}
			st, err := os.Stat(abs)
			if err != nil {
				return "", usagef("--file %s: %v", f, err)
			}
			if st.IsDir() {
				return "", usagef("--file %s: is a directory; ship files one by one", f)
			}
			files = append(files, abs)
		}
	}
	return strings.Join(files, ","), nil
}
