package testenv

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// sysUser is a system account that servers run as.
type sysUser struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

// lookupUser finds the account name in the user database.
func lookupUser(name string) (sysUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return sysUser{}, fmt.Errorf("system user %q (created by its Debian package; see scripts/install-deps.sh): %w", name, err)
	}
	s := sysUser{name: name}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return sysUser{}, fmt.Errorf("system user %q has a non-numeric uid or gid", name)
	}
	s.uid, s.gid = uint32(uid), uint32(gid)
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			s.groups = append(s.groups, uint32(n))
		}
	}
	return s, nil
}

// chownTo gives path to the system user runAs when the caller is root, so that a
// server started by Spawn(cmd, runAs) can write there. It does nothing when the
// caller is not root: the server then runs as the caller.
func chownTo(path, runAs string) error {
	if os.Geteuid() != 0 || runAs == "" {
		return nil
	}
	u, err := lookupUser(runAs)
	if err != nil {
		return err
	}
	return os.Chown(path, int(u.uid), int(u.gid))
}

// mkdirFor creates dir with mode 0700 (servers insist on private data
// directories) owned by runAs (see chownTo).
func mkdirFor(dir, runAs string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return chownTo(dir, runAs)
}
