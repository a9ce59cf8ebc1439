package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/motorpool/motorpool/internal/config"
)

func newPresetsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "presets",
		Short: "List the built-in defaults, profiles, provider presets and service types",
		Long: `presets prints the built-in tables that pool settings are resolved from.
A dash means the table leaves the setting to a weaker layer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printPresets(cmd.OutOrStdout())
		},
	}
}

var (
	profileCols = []config.Setting{config.SettingConnectionLimit, config.SettingPoolTimeout, config.SettingConnectTimeout,
		config.SettingStatementTimeout, config.SettingIdleTimeout, config.SettingMaxLifetime, config.SettingPreparedStatements}
	presetCols = []config.Setting{config.SettingMinConnections, config.SettingConnectionLimit, config.SettingPoolTimeout,
		config.SettingIdleTimeout, config.SettingValidationTimeout, config.SettingStatementTimeout, config.SettingMaxConnecting}
	serviceCols = []config.Setting{config.SettingConnectionLimit, config.SettingPoolTimeout, config.SettingIdleTimeout,
		config.SettingPriority, config.SettingConnectionPattern}
)

func printPresets(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defaults := config.Defaults()
	fmt.Fprintln(tw, "DEFAULTS (every pool starts here)")
	for _, s := range config.Settings() {
		fmt.Fprintf(tw, "  %s\t%s\n", s, defaults.Format(s))
	}

	fmt.Fprintln(tw, "\nPROFILES (profile: NAME)")
	header(tw, "  NAME", profileCols)
	for _, p := range config.Profiles() {
		row(tw, "  "+p.Name, p.Pool, profileCols, "")
	}

	fmt.Fprintln(tw, "\nPRESETS (databases.NAME.preset)")
	header(tw, "  NAME\tPROVIDER", presetCols, "SESSION")
	for _, p := range config.Presets() {
		row(tw, "  "+p.Name+"\t"+string(p.Provider), p.Pool, presetCols, session(p.Session))
	}

	fmt.Fprintln(tw, "\nSERVICE TYPES (services.NAME.type)")
	header(tw, "  NAME", serviceCols)
	for _, t := range config.ServiceTypes() {
		row(tw, "  "+t.Name, t.Pool, serviceCols, "")
	}
	return tw.Flush()
}

func header(w io.Writer, first string, cols []config.Setting, extra ...string) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.ToUpper(string(c))
	}
	fmt.Fprintln(w, strings.Join(append(append([]string{first}, names...), extra...), "\t"))
}

func row(w io.Writer, first string, o config.Overrides, cols []config.Setting, extra string) {
	vals := make([]string, len(cols))
	for i, c := range cols {
		v, ok := o.Lookup(c)
		if !ok {
			v = "-"
		}
		vals[i] = v
	}
	if extra != "" {
		vals = append(vals, extra)
	}
	fmt.Fprintln(w, strings.Join(append([]string{first}, vals...), "\t"))
}

func session(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
