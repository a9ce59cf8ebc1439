// Package web holds the admin dashboard's templates and static files,
// embedded in the binary: html/template pages and partials under templates/,
// and under static/ the stylesheet, the chart script, the script that says when
// the page stopped being live (live.js) and the vendored
// htmx 2.0.11 and uPlot 1.6.32 (from their npm packages, with their LICENSE
// files). There is no JavaScript build step, and the dashboard works offline.
package web

import "embed"

// FS holds templates/*.html and static/*.
//
//go:embed templates static
var FS embed.FS
