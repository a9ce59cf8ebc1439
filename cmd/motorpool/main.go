// Command motorpool is the motorpool database connection pooler.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	cmd := newRootCmd()
	if err := cmd.Execute(); err != nil {
		var exit exitError
		if !errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, "motorpool:", err)
			os.Exit(2)
		}
		os.Exit(exit.code)
	}
}
