package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/motorpool/motorpool/internal/config"
)

// exitInvalid is check's exit status for an invalid configuration.
const exitInvalid = 2

func newCheckCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "check -c FILE",
		Short: "Validate a configuration file and print the effective settings with their origins",
		Long: `check loads FILE, resolves every pool setting through the precedence
  built-in default < profile < preset < URL parameter < YAML field
  (and for a service's pool: < service type < the service's own fields)
and prints the effective configuration with where each value came from.
Passwords and tokens are redacted.

Errors and warnings go to standard error as FILE:LINE:COL: PATH: MESSAGE.
Exit status: 0 valid (warnings allowed), 2 invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.OutOrStdout(), cmd.ErrOrStderr(), file)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "motorpool.yaml", "configuration file")
	return cmd
}

func runCheck(stdout, stderr io.Writer, file string) error {
	cfg, err := load(file)
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			fmt.Fprintf(stderr, "%v\n", err)
			return exitError{exitInvalid}
		}
		for _, e := range errs {
			fmt.Fprintf(stderr, "%v\n", e)
		}
		fmt.Fprintf(stderr, "%s: invalid (%s)\n", file, plural(len(errs), "error"))
		return exitError{exitInvalid}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "warning: %v\n", w)
	}
	if err := printSections(stdout, cfg.Sections()); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: valid (%s)\n", file, plural(len(cfg.Warnings), "warning"))
	return nil
}

// printSections writes settings as aligned name, value, origin columns,
// one block per section.
func printSections(w io.Writer, sections []config.Section) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, s := range sections {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		if s.Title != "" {
			fmt.Fprintf(tw, "[%s]\n", s.Title)
		}
		for _, e := range s.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, orDash(e.Value), e.Origin)
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
