package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
)

func genCommand() *cli.Command {
	return &cli.Command{
		Name:      "gen",
		Usage:     "generate seeded test data: " + strings.Join(gen.Kinds, ", "),
		ArgsUsage: "KIND",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Value: "64MiB", Usage: "bytes to write (64KiB, 1MiB, 1GiB)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random seed; the same seed gives the same bytes"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `FILE` (default: standard output)"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			kind := cmd.Args().First()
			if kind == "" {
				return usagef("gen: name a kind: %s", strings.Join(gen.Kinds, ", "))
			}
			if err := strayArgs(cmd, 1, "gen makes one kind at a time, written to --output FILE"); err != nil {
				return err
			}
			size, err := mapreduce.ParseSize(cmd.String("size"))
			if err != nil {
				return usagef("--size: %v", err)
			}
			var w io.Writer = cmd.Root().Writer
			var f *os.File
			if path := cmd.String("output"); path != "" && path != "-" {
				if f, err = os.Create(path); err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			if _, err := gen.Generate(kind, bw, size, cmd.Uint64("seed")); err != nil {
				return fmt.Errorf("gen %s: %w", kind, err)
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				return f.Close()
			}
			return nil
		},
	}
}
