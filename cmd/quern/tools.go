package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

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
		Usage:     "print output files (text, .gz, .zst, jsonl, parquet, arrow) as tab-separated text",
		ArgsUsage: "FILE...",
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() == 0 {
				return usagef("cat: name at least one file")
			}
			for _, path := range cmd.Args().Slice() {
				if err := output.Cat(cmd.Root().Writer, path); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
