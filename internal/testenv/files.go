package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// runAs runs a short command (initdb, mariadb-install-db) as runAs and returns
// its combined output in the error when it fails.
func runAs(cmd *exec.Cmd, runAs string) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := Spawn(cmd, runAs)
	if err != nil {
		return err
	}
	<-p.Done()
	if p.err != nil {
		return fmt.Errorf("%s: %v:\n%s", strings.Join(cmd.Args, " "), p.err, out.String())
	}
	return nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logTail returns the last n lines of a log file, for error messages.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
