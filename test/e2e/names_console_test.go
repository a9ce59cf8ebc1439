package e2e

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// TestNamesConsoleEscapesControls: a client that has only sent its startup
// packet, with an application_name holding an escape sequence (one that
// would retitle and clear a terminal), is listed by SHOW CLIENTS, in psql as
// in any client, with the sequence's control characters escaped.
func TestNamesConsoleEscapesControls(t *testing.T) {
	ctx := testCtx(t)
	e := startMonitored(t, "", time.Minute)
	const app = "x\x1b]0;owned\x07\x1b[2J"
	raw, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	body := binary.BigEndian.AppendUint32(nil, 3<<16)
	for _, kv := range []string{"user", monAppUser, "database", e.DB, "application_name", app} {
		body = append(append(body, kv...), 0)
	}
	body = append(body, 0)
	if _, err := raw.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)); err != nil {
		t.Fatal(err)
	}
	// The SCRAM challenge it is sent stays unanswered: the client logs in.

	console, err := e.console(t, ctx, monAdminUser, monAdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	waitFor(t, ctx, "the client listed", func() bool {
		apps = nil
		rows, err := console.Query(ctx, "SHOW CLIENTS")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range rows.FieldDescriptions() {
				if f.Name == "application_name" && vals[i] != nil {
					apps = append(apps, vals[i].(string))
				}
			}
		}
		return strings.Contains(strings.Join(apps, " "), "x")
	})
	for _, a := range apps {
		if strings.ContainsRune(a, 0x1b) || strings.ContainsRune(a, 0x07) {
			t.Errorf("SHOW CLIENTS writes the control characters of %q", a)
		}
	}
	if want := `x\x1b]0;owned\x07\x1b[2J`; !strings.Contains(strings.Join(apps, " "), want) {
		t.Errorf("SHOW CLIENTS' application names %q lack %s", apps, want)
	}
}
