package pg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startupBytes encodes an untyped startup packet: length, code, body.
func startupBytes(code uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, body...)
}

// kv encodes startup parameters, with the final terminator.
func kv(pairs ...string) []byte {
	var b []byte
	for _, p := range pairs {
		b = append(append(b, p...), 0)
	}
	return append(b, 0)
}

// sqlstate returns the SQLSTATE of a motorpool error, or "" if err is not one.
func sqlstate(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestReadStartupPacket(t *testing.T) {
	t.Parallel()
	long := binary.BigEndian.AppendUint32(nil, maxStartupLen+1)
	tests := []struct {
		name     string
		in       []byte
		code     uint32
		body     []byte
		wantCode string // SQLSTATE of the error
		wantErr  error  // or an I/O error
	}{
		{name: "a StartupMessage is read whole", in: startupBytes(codeProtocol30, kv("user", "u")), code: codeProtocol30, body: kv("user", "u")},
		{name: "an SSLRequest has an empty body", in: startupBytes(codeSSL, nil), code: codeSSL, body: []byte{}},
		{name: "a CancelRequest carries its key", in: startupBytes(codeCancel, []byte{0, 0, 0, 1, 0, 0, 0, 2}), code: codeCancel, body: []byte{0, 0, 0, 1, 0, 0, 0, 2}},
		{name: "only the first packet is consumed", in: append(startupBytes(codeSSL, nil), 'x'), code: codeSSL, body: []byte{}},
		{name: "a length below 8 is refused", in: []byte{0, 0, 0, 7, 0, 3, 0, 0}, wantCode: CodeProtocolViolation},
		{name: "a negative length is refused", in: []byte{0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0}, wantCode: CodeProtocolViolation},
		{name: "a length above the startup limit is refused before reading", in: long, wantCode: CodeProtocolViolation},
		{name: "a packet of exactly the limit is read", in: startupBytes(codeProtocol30, make([]byte, maxStartupLen-8)), code: codeProtocol30, body: make([]byte, maxStartupLen-8)},
		{name: "an empty stream is EOF", in: nil, wantErr: io.EOF},
		{name: "a truncated length is an unexpected EOF", in: []byte{0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "a truncated body is an unexpected EOF", in: startupBytes(codeProtocol30, kv("user", "u"))[:12], wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.in)
			p, err := readStartupPacket(r)
			switch {
			case tt.wantCode != "":
				assert.Equal(t, tt.wantCode, sqlstate(err), "err: %v", err)
			case tt.wantErr != nil:
				assert.ErrorIs(t, err, tt.wantErr)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.code, p.code)
				assert.Equal(t, tt.body, p.body)
			}
		})
	}
}

func TestParseStartup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		code     uint32
		body     []byte
		params   map[string]string
		options  []string
		minor    uint16
		wantCode string
	}{
		{name: "the database defaults to the user name", code: codeProtocol30, body: kv("user", "alice"),
			params: map[string]string{"user": "alice", "database": "alice"}},
		{name: "every parameter is kept", code: codeProtocol30, body: kv("user", "u", "database", "d", "search_path", "a, b", "options", "-c x=1"),
			params: map[string]string{"user": "u", "database": "d", "search_path": "a, b", "options": "-c x=1"}},
		{name: "an empty value is a value", code: codeProtocol30, body: kv("user", "u", "application_name", ""),
			params: map[string]string{"user": "u", "database": "u", "application_name": ""}},
		{name: "protocol 3.2 is accepted with its minor version", code: codeProtocol32, body: kv("user", "u"), minor: 2,
			params: map[string]string{"user": "u", "database": "u"}},
		{name: "protocol options are set apart", code: codeProtocol32, body: kv("user", "u", "_pq_.command_compression", "on", "_pq_.x", "1"), minor: 2,
			params: map[string]string{"user": "u", "database": "u"}, options: []string{"_pq_.command_compression", "_pq_.x"}},
		{name: "protocol 2 is not supported", code: 2 << 16, body: kv("user", "u"), wantCode: CodeFeatureNotSupported},
		{name: "protocol 4 is not supported", code: 4 << 16, body: kv("user", "u"), wantCode: CodeFeatureNotSupported},
		{name: "a missing user is refused as PostgreSQL refuses it", code: codeProtocol30, body: kv("database", "d"), wantCode: CodeInvalidAuthorization},
		{name: "an empty user is refused", code: codeProtocol30, body: kv("user", ""), wantCode: CodeInvalidAuthorization},
		{name: "a missing terminator is a protocol violation", code: codeProtocol30, body: kv("user", "u")[:7], wantCode: CodeProtocolViolation},
		{name: "a name without value is a protocol violation", code: codeProtocol30, body: []byte("user\x00"), wantCode: CodeProtocolViolation},
		{name: "bytes after the terminator are a protocol violation", code: codeProtocol30, body: append(kv("user", "u"), 'x'), wantCode: CodeProtocolViolation},
		{name: "an empty body is a protocol violation", code: codeProtocol30, body: nil, wantCode: CodeProtocolViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := parseStartup(tt.code, tt.body)
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, sqlstate(err), "err: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.params, sp.params)
			assert.Equal(t, tt.options, sp.protocolOptions)
			assert.Equal(t, tt.minor, sp.minor)
		})
	}
}

func TestSessionSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		params   map[string]string
		want     map[string]string
		wantCode string
	}{
		{name: "identity parameters are not settings",
			params: map[string]string{"user": "u", "database": "d", "replication": "false"}, want: map[string]string{}},
		{name: "names are lower-cased", params: map[string]string{"user": "u", "DateStyle": "ISO"}, want: map[string]string{"datestyle": "ISO"}},
		{name: "options expand into settings and win over parameters",
			params: map[string]string{"user": "u", "search_path": "a", "options": "-c search_path=b --statement-timeout=5s"},
			want:   map[string]string{"search_path": "b", "statement_timeout": "5s"}},
		{name: "a bad option is refused", params: map[string]string{"user": "u", "options": "-B 100"}, wantCode: CodeFeatureNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&startupParams{params: tt.params}).sessionSettings()
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, sqlstate(err), "err: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		want     map[string]string
		wantCode string
	}{
		{name: "empty options are no settings", in: "", want: map[string]string{}},
		{name: "-c with a separate argument", in: "-c search_path=app", want: map[string]string{"search_path": "app"}},
		{name: "-c joined to its argument", in: "-cwork_mem=64MB", want: map[string]string{"work_mem": "64MB"}},
		{name: "--name=value with dashes becomes underscores", in: "--statement-timeout=5s", want: map[string]string{"statement_timeout": "5s"}},
		{name: "names are lower-cased", in: "-c DateStyle=ISO", want: map[string]string{"datestyle": "ISO"}},
		{name: "a backslash escapes a space in a value", in: `-c search_path=my\ schema,public`, want: map[string]string{"search_path": "my schema,public"}},
		{name: "a value may contain an equals sign", in: "-c application_name=a=b", want: map[string]string{"application_name": "a=b"}},
		{name: "an empty value is a value", in: "-c application_name=", want: map[string]string{"application_name": ""}},
		{name: "several switches, the last wins", in: " -c a=1\t-c a=2\n-cb=3 ", want: map[string]string{"a": "2", "b": "3"}},
		{name: "-c without an argument is invalid", in: "-c", wantCode: CodeInvalidParameterValue},
		{name: "-c without equals is invalid", in: "-c search_path", wantCode: CodeInvalidParameterValue},
		{name: "-c without a name is invalid", in: "-c =x", wantCode: CodeInvalidParameterValue},
		{name: "other switches are not supported", in: "-B 100", wantCode: CodeFeatureNotSupported},
		{name: "a bare word is not supported", in: "search_path=x", wantCode: CodeFeatureNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(tt.in)
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, sqlstate(err), "err: %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"a", []string{"a"}},
		{" a  b\tc\r\nd ", []string{"a", "b", "c", "d"}},
		{`a\ b`, []string{"a b"}},
		{`a\\ b`, []string{`a\`, "b"}},
		{`\a`, []string{"a"}},
		{`a\`, []string{"a"}},
		{"é ü", []string{"é", "ü"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.in, " ", "·"), func(t *testing.T) {
			assert.Equal(t, tt.want, splitOptions(tt.in))
		})
	}
}

func TestNegotiateProtocol(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		options []string
	}{
		{name: "protocol 3.2 without options gets 3.0 and an empty list"},
		{name: "protocol options are listed as not recognised", options: []string{"_pq_.a", "_pq_.b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := negotiateProtocol(&startupParams{minor: 2, protocolOptions: tt.options})
			require.Equal(t, byte(msgNegotiateProtocol), msg[0])
			var npv pgproto3.NegotiateProtocolVersion
			require.NoError(t, npv.Decode(msg[headerLen:]))
			// PostgreSQL sends its full version number, 3.0, which libpq checks.
			assert.Equal(t, uint32(3<<16), npv.NewestMinorProtocol)
			assert.Equal(t, len(tt.options), len(npv.UnrecognizedOptions))
			for i := range tt.options {
				assert.Equal(t, tt.options[i], npv.UnrecognizedOptions[i])
			}
		})
	}
}

// FuzzStartupPacket feeds arbitrary bytes to the startup packet reader and then to the
// StartupMessage parser: every failure is a motorpool error with a SQLSTATE a client
// can be told (or an I/O error of the stream itself), never a panic.
func FuzzStartupPacket(f *testing.F) {
	f.Add(startupBytes(codeProtocol30, kv("user", "u", "database", "d")))
	f.Add(startupBytes(codeProtocol32, kv("user", "u", "_pq_.x", "1")))
	f.Add(startupBytes(codeProtocol30, kv("user", "u", "options", `-c a=b --c-d=e -cf=g\ h`)))
	f.Add(startupBytes(codeSSL, nil))
	f.Add(startupBytes(codeCancel, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(startupBytes(2<<16, kv("user", "u")))
	f.Add([]byte{0, 0, 0, 8, 0, 3, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readStartupPacket(bytes.NewReader(data))
		if err != nil {
			if c := sqlstate(err); c != "" && c != CodeProtocolViolation {
				t.Fatalf("read: unexpected SQLSTATE %s: %v", c, err)
			}
			if sqlstate(err) == "" && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read: unexpected error %v", err)
			}
			return
		}
		if len(p.body)+8 > maxStartupLen || len(p.body)+8 > len(data) {
			t.Fatalf("body of %d bytes from %d", len(p.body), len(data))
		}
		sp, err := parseStartup(p.code, p.body)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !pe.Fatal() {
				t.Fatalf("parse: %v is not a FATAL motorpool error", err)
			}
			return
		}
		if sp.params["user"] == "" || sp.params["database"] == "" {
			t.Fatalf("accepted without user or database: %v", sp.params)
		}
		for _, o := range sp.protocolOptions {
			if !strings.HasPrefix(o, "_pq_.") {
				t.Fatalf("protocol option %q", o)
			}
		}
		if _, err := sp.sessionSettings(); err != nil && sqlstate(err) == "" {
			t.Fatalf("settings: %v", err)
		}
		var npv pgproto3.NegotiateProtocolVersion
		if err := npv.Decode(negotiateProtocol(sp)[headerLen:]); err != nil {
			t.Fatalf("NegotiateProtocolVersion does not decode: %v", err)
		}
		if !slices.Equal(npv.UnrecognizedOptions, sp.protocolOptions) && len(sp.protocolOptions) > 0 {
			t.Fatalf("negotiated %v, asked %v", npv.UnrecognizedOptions, sp.protocolOptions)
		}
	})
}

// FuzzParseOptions checks the options parser on arbitrary strings (no panic, settings
// named as PostgreSQL names them), and that splitting undoes escaping: any list of
// words, each escaped and joined with blanks, splits back into itself.
func FuzzParseOptions(f *testing.F) {
	f.Add("-c search_path=a\\ b --work-mem=1MB -cx=y")
	f.Add("\\")
	f.Add(" -c  a=\\\\ ")
	f.Add("-c")
	f.Add("--=x")
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := parseOptions(s)
		if err != nil {
			if c := sqlstate(err); c != CodeFeatureNotSupported && c != CodeInvalidParameterValue {
				t.Fatalf("error %v has SQLSTATE %q", err, c)
			}
		}
		for k := range opts {
			if k == "" || strings.ContainsRune(k, '-') || k != strings.ToLower(k) {
				t.Fatalf("setting name %q", k)
			}
		}
		words := splitOptions(s)
		for _, w := range words {
			if w == "" {
				t.Fatalf("empty word from %q", s)
			}
		}
		// Round trip through escaping.
		var b strings.Builder
		for _, w := range words {
			for _, r := range w {
				if r == '\\' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteByte(' ')
		}
		if again := splitOptions(b.String()); !slices.Equal(again, words) {
			t.Fatalf("split(%q) = %q, split(escaped) = %q", s, words, again)
		}
	})
}
