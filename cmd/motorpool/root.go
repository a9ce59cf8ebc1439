package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newRootCmd returns the motorpool command with every subcommand added.
// Add a subcommand by writing newXxxCmd in its own file and listing it here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "motorpool",
		Short:         "motorpool is a database connection pooler",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newCheckCmd(),
		newPresetsCmd(),
		newServeCmd(),
		newTopCmd(),
		newDoctorCmd(),
		newDemoCmd(),
	)
	return root
}

// exitError ends the process with code after the command has printed its
// own report.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
