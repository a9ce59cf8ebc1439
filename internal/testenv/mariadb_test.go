package testenv_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/motorpool/motorpool/internal/testenv"
)

func TestMariaDB(t *testing.T) {
	m := testenv.MariaDB(t)
	db := m.CreateDatabase(t, "testenv_maria")
	m.CreateUser(t, "app", `app\'s "secret"`)

	conn, err := sql.Open("mysql", m.DSN("app", `app\'s "secret"`, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var user, plugin string
	if err := conn.QueryRowContext(ctx(t), "SELECT CURRENT_USER()").Scan(&user); err != nil {
		t.Fatal(err)
	}
	if user != "app@%" {
		t.Fatalf("CURRENT_USER() = %q, want app@%%", user)
	}
	if err := conn.QueryRowContext(ctx(t), "SELECT plugin FROM mysql.user WHERE user = 'app'").Scan(&plugin); err != nil {
		t.Fatal(err)
	}
	if plugin != "mysql_native_password" {
		t.Fatalf("plugin = %q, want mysql_native_password", plugin)
	}
	if _, err := conn.ExecContext(ctx(t), "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
}

func TestMariaDBWrongPassword(t *testing.T) {
	m := testenv.MariaDB(t)
	m.CreateUser(t, "app2", "right")
	conn, err := sql.Open("mysql", m.DSN("app2", "wrong", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.PingContext(ctx(t))
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) || myErr.Number != 1045 {
		t.Fatalf("error = %v, want MySQL error 1045 (access denied)", err)
	}
}
