package pg

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// textConsole is a proxy.Console that answers every command with res.
type textConsole struct{ res *proxy.ConsoleResult }

func (c textConsole) Exec(ctx context.Context, user, command string) (*proxy.ConsoleResult, error) {
	return c.res, nil
}

// typed returns res with column types and NULLs.
func typed(res *proxy.ConsoleResult, types []string, nulls [][]bool) *proxy.ConsoleResult {
	r := *res
	r.Types, r.Nulls = types, nulls
	return &r
}

// decodeConsole splits runConsole's output into its RowDescription and
// DataRows.
func decodeConsole(t *testing.T, out []byte) (*pgproto3.RowDescription, [][][]byte) {
	t.Helper()
	var rd *pgproto3.RowDescription
	var rows [][][]byte
	for len(out) > 0 {
		n := int(binary.BigEndian.Uint32(out[1:5])) + 1
		body := out[5:n]
		switch out[0] {
		case 'T':
			rd = &pgproto3.RowDescription{}
			if err := rd.Decode(body); err != nil {
				t.Fatal(err)
			}
		case 'D':
			var dr pgproto3.DataRow
			if err := dr.Decode(body); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, dr.Values)
		}
		out = out[n:]
	}
	return rd, rows
}

func TestConsoleColumnTypesAndNulls(t *testing.T) {
	res := &proxy.ConsoleResult{
		Columns: []string{"name", "count", "total", "rate", "note"},
		Rows:    [][]string{{"a", "1", "10", "0.5", ""}, {"b", "2", "", "1", "x"}},
		Tag:     "SHOW",
	}
	tests := []struct {
		name  string
		con   proxy.Console
		oids  []uint32
		sizes []int16
		nulls [][]bool // per row, cell is NULL
	}{
		{"text console", textConsole{res}, []uint32{25, 25, 25, 25, 25}, []int16{-1, -1, -1, -1, -1},
			[][]bool{{false, false, false, false, false}, {false, false, false, false, false}}},
		{"typed console", textConsole{typed(res, []string{"text", "integer", "bigint", "numeric", "text"},
			[][]bool{{false, false, false, false, true}, {false, false, true, false, false}})},
			[]uint32{25, 23, 20, 1700, 25}, []int16{-1, 4, 8, -1, -1},
			[][]bool{{false, false, false, false, true}, {false, false, true, false, false}}},
		{"typed console, no NULLs, unknown type", textConsole{typed(res, []string{"text", "integer", "uuid"}, nil)},
			[]uint32{25, 23, 25, 25, 25}, []int16{-1, 4, -1, -1, -1},
			[][]bool{{false, false, false, false, false}, {false, false, false, false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, rows := decodeConsole(t, runConsole(context.Background(), tt.con, "admin", "SHOW X"))
			if rd == nil || len(rd.Fields) != len(res.Columns) {
				t.Fatalf("RowDescription %+v", rd)
			}
			for i, f := range rd.Fields {
				if string(f.Name) != res.Columns[i] || f.DataTypeOID != tt.oids[i] || f.DataTypeSize != tt.sizes[i] || f.Format != 0 {
					t.Errorf("column %d: %s oid %d size %d format %d, want %s oid %d size %d text",
						i, f.Name, f.DataTypeOID, f.DataTypeSize, f.Format, res.Columns[i], tt.oids[i], tt.sizes[i])
				}
			}
			if len(rows) != len(res.Rows) {
				t.Fatalf("%d rows, want %d", len(rows), len(res.Rows))
			}
			for r, row := range rows {
				for i, v := range row {
					switch {
					case tt.nulls[r][i] && v != nil:
						t.Errorf("row %d column %d = %q, want NULL", r, i, v)
					case !tt.nulls[r][i] && (v == nil || string(v) != res.Rows[r][i]):
						t.Errorf("row %d column %d = %q (NULL %v), want %q", r, i, v, v == nil, res.Rows[r][i])
					}
				}
			}
		})
	}
}
