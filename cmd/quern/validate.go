package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/quern-dev/quern/apps/totalsort"
)

// validateSortCommand checks sorted output the way valsort does.
func validateSortCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate-sort",
		Usage:     "check that sorted output is in global order; print its record count and checksum (like valsort)",
		ArgsUsage: "DIR|FILE...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "records", Value: "auto", Usage: "gensort (100-byte records by 10-byte key), lines, or auto (gensort if the first record is one)"},
			&cli.StringFlag{Name: "input", Usage: "also checksum this unsorted input `FILE` and require the same records"},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() == 0 {
				return usagef("validate-sort: name the sorted output directory or files")
			}
			mode := cmd.String("records")
			if mode != "gensort" && mode != "lines" && mode != "auto" {
				return usagef("--records must be gensort, lines or auto, got %q", mode)
			}
			gensort := mode == "gensort"
			if mode == "auto" {
				var err error
				if gensort, err = totalsort.LooksGensort(cmd.Args().First()); err != nil {
					return err
				}
			}
			rep, err := totalsort.Validate(cmd.Args().Slice(), gensort)
			if err != nil {
				return err
			}
			w := cmd.Root().Writer
			fmt.Fprint(w, rep)
			if in := cmd.String("input"); in != "" {
				want, err := totalsort.Validate([]string{in}, gensort)
				if err != nil {
					return err
				}
				if want.Records != rep.Records || want.Checksum != rep.Checksum {
					return fmt.Errorf("validate-sort: output has %d records with checksum %016x, input %s has %d with %016x",
						rep.Records, rep.Checksum, in, want.Records, want.Checksum)
				}
				fmt.Fprintln(w, "input matches: same records and checksum")
			}
			if !rep.Ordered() {
				return fmt.Errorf("validate-sort: output is not sorted")
			}
			return nil
		},
	}
}
