package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// cleanCommand removes the work directories of jobs whose driver died.
func cleanCommand() *cli.Command {
	return &cli.Command{
		Name:  "clean",
		Usage: "remove the work directories of jobs whose driver is no longer running",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tmp-dir", Usage: "where the jobs kept their work directories (default: the OS temp directory)"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if err := strayArgs(cmd, 0, "name the folder with --tmp-dir DIR"); err != nil {
				return err
			}
			removed, err := mapreduce.CleanStale(cmd.String("tmp-dir"))
			for _, dir := range removed {
				fmt.Fprintln(cmd.Root().Writer, "removed", dir)
			}
			return err
		},
	}
}

// catCommand prints output files of any format as text.
func catCommand() *cli.Command {
	return &cli.Command{
		Name:      "cat",
		Usage:     "print output files (text, .gz, .zst, jsonl, parquet, arrow), or a job's output directory, as tab-separated text",
		ArgsUsage: "FILE|DIR...",
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() == 0 {
				return usagef("cat: name at least one file")
			}
			for _, path := range cmd.Args().Slice() {
				files, err := outputFiles(path)
				if err != nil {
					return err
				}
				for _, f := range files {
					if err := output.Cat(cmd.Root().Writer, f); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

// outputFiles is path itself for a file, and for a directory the output
// files of the job that wrote it, in name order (the part files, so the
// key order of a total-order job; or the merged file): what `hadoop fs
// -cat out/part-*` prints. A directory without _SUCCESS is refused, since
// its job failed or is still running and its part files, if any, are not
// its answer: a usage error, exit status 2, as for any input named wrong.
func outputFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return []string{path}, nil // output.Cat reports a missing file
	}
	if _, err := os.Stat(filepath.Join(path, commit.SuccessName)); err != nil {
		return nil, usagef("cat: %s has no %s: the job that wrote it failed or has not finished (its %s says which)",
			path, commit.SuccessName, commit.SummaryName)
	}
	if err := commit.Verify(path); err != nil {
		return nil, usagef("cat: %v; its part files are at most part of its answer (quern cat %s prints what is left)",
			err, filepath.Join(path, "part-*"))
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("cat: %w", err)
	}
	var files []string
	for _, e := range entries { // ReadDir sorts by name
		if name := e.Name(); !e.IsDir() && commit.IsJobFile(name) && !strings.HasPrefix(name, "_") {
			files = append(files, filepath.Join(path, name))
		}
	}
	return files, nil
}
