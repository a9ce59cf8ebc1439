package pg

import "testing"

func TestSmoke(t *testing.T) {
	e := newEnv(t, envOptions{}, respondLogin)
	c := e.connect()
	t.Log(types(c.query("SELECT 1")))
	t.Log(types(c.query("BEGIN")))
	t.Log(types(c.query("COMMIT")))
	c.close()
}
