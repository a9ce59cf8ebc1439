package pg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// startupPacket is an untyped packet a client sends before the regular protocol: a
// StartupMessage, an SSLRequest, a GSSENCRequest or a CancelRequest.
type startupPacket struct {
	code uint32
	body []byte // after the length and code
}

// readStartupPacket reads one untyped startup packet of at most maxStartupLen bytes.
func readStartupPacket(r io.Reader) (startupPacket, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return startupPacket{}, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:4])))
	if n < 8 || n > maxStartupLen {
		return startupPacket{}, Fatalf(CodeProtocolViolation, "invalid length of startup packet")
	}
	buf := make([]byte, n-4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return startupPacket{}, fmt.Errorf("incomplete startup packet: %w", err)
	}
	return startupPacket{code: binary.BigEndian.Uint32(buf), body: buf[4:]}, nil
}

// startupParams is a decoded StartupMessage.
type startupParams struct {
	minor  uint16 // requested protocol minor version
	params map[string]string
	// protocolOptions are the _pq_.* options asked for; motorpool supports none.
	protocolOptions []string
}

// parseStartup decodes a StartupMessage body: NUL-terminated name/value pairs ending
// with an empty name.
func parseStartup(code uint32, body []byte) (*startupParams, error) {
	if code>>16 != 3 {
		return nil, Fatalf(CodeFeatureNotSupported, "unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", code>>16, code&0xffff)
	}
	sp := &startupParams{minor: uint16(code & 0xffff), params: make(map[string]string)}
	for {
		name, rest, ok := cstring(body)
		if !ok {
			return nil, Fatalf(CodeProtocolViolation, "invalid startup packet layout: expected terminator as last byte")
		}
		if len(name) == 0 {
			if len(rest) != 0 {
				return nil, Fatalf(CodeProtocolViolation, "invalid startup packet layout: expected terminator as last byte")
			}
			break
		}
		value, rest2, ok := cstring(rest)
		if !ok {
			return nil, Fatalf(CodeProtocolViolation, "invalid startup packet layout: expected terminator as last byte")
		}
		n := string(name)
		if strings.HasPrefix(n, "_pq_.") {
			sp.protocolOptions = append(sp.protocolOptions, n)
		} else {
			sp.params[n] = string(value)
		}
		body = rest2
	}
	if sp.params["user"] == "" {
		return nil, Fatalf(CodeInvalidAuthorization, "no PostgreSQL user name specified in startup packet")
	}
	if sp.params["database"] == "" {
		sp.params["database"] = sp.params["user"]
	}
	return sp, nil
}

// checkReplication refuses a replication connection (replication=database, or a
// true boolean), which motorpool does not proxy, and a replication value PostgreSQL
// would refuse (22023). A false boolean ("false", "off", "no", "0", ...) asks for an
// ordinary connection.
func (sp *startupParams) checkReplication() error {
	v, ok := sp.params["replication"]
	if !ok {
		return nil
	}
	on, valid := parseBool(v)
	switch {
	case v == "database" || valid && on:
		return Fatalf(CodeFeatureNotSupported, "replication connections are not supported by motorpool")
	case !valid:
		e := Fatalf(CodeInvalidParameterValue, "invalid value for parameter \"replication\": \"%s\"", v)
		e.Hint = `Valid values are: "false", 0, "true", 1, "database".`
		return e
	}
	return nil
}

// parseBool parses a boolean as PostgreSQL's parse_bool: case-insensitive prefixes
// of true, false, yes and no, on and off (at least two letters), 1 and 0.
func parseBool(v string) (value, ok bool) {
	l := strings.ToLower(v)
	prefixOf := func(word string, min int) bool { return len(l) >= min && strings.HasPrefix(word, l) }
	switch {
	case prefixOf("true", 1), prefixOf("yes", 1), l == "on", l == "1":
		return true, true
	case prefixOf("false", 1), prefixOf("no", 1), prefixOf("off", 2), l == "0":
		return false, true
	}
	return false, false
}

// sessionSettings returns the run-time settings a client asked for in its startup
// packet: every parameter but the connection's identity, with options' -c name=value
// pairs expanded.
func (sp *startupParams) sessionSettings() (map[string]string, error) {
	out := make(map[string]string)
	for k, v := range sp.params {
		switch k {
		case "user", "database", "options", "replication":
			continue
		}
		out[strings.ToLower(k)] = v
	}
	opts, err := parseOptions(sp.params["options"])
	if err != nil {
		return nil, err
	}
	for k, v := range opts {
		out[k] = v
	}
	return out, nil
}

// parseOptions parses the options startup parameter: command-line switches of which
// motorpool understands "-c name=value" and "--name=value" (backslash escapes a space).
func parseOptions(s string) (map[string]string, error) {
	args := splitOptions(s)
	out := make(map[string]string)
	for i := 0; i < len(args); i++ {
		a := args[i]
		var kv string
		switch {
		case a == "-c" && i+1 < len(args):
			i++
			kv = args[i]
		case strings.HasPrefix(a, "-c"):
			kv = a[2:]
		case strings.HasPrefix(a, "--"):
			kv = a[2:]
		default:
			return nil, Fatalf(CodeFeatureNotSupported, "unsupported option %q in the options startup parameter (only -c name=value is supported)", a)
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, Fatalf(CodeInvalidParameterValue, "invalid option %q: expected name=value", kv)
		}
		out[strings.ToLower(strings.ReplaceAll(name, "-", "_"))] = value
	}
	return out, nil
}

// splitOptions splits on unescaped whitespace, as PostgreSQL's pg_split_opts.
func splitOptions(s string) []string {
	var args []string
	var cur strings.Builder
	escaped, any := false, false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped, any = false, true
		case r == '\\':
			escaped = true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if any {
				args = append(args, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		args = append(args, cur.String())
	}
	return args
}

// negotiateProtocol encodes NegotiateProtocolVersion: motorpool serves protocol 3.0 and
// no protocol options.
func negotiateProtocol(sp *startupParams) []byte {
	body := binary.BigEndian.AppendUint32(nil, 3<<16|0)
	body = binary.BigEndian.AppendUint32(body, uint32(len(sp.protocolOptions)))
	for _, o := range sp.protocolOptions {
		body = append(append(body, o...), 0)
	}
	return appendMsg(nil, msgNegotiateProtocol, body)
}

var errCancelRequest = errors.New("cancel request")
