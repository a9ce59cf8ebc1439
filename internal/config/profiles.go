package config

import "time"

// Profile is a named set of pool settings for one kind of environment. The
// top-level `profile:` field applies one to every database and service.
type Profile struct {
	Name        string
	Description string
	Pool        Overrides
}

// profiles are the lesson's environment connection strings, as settings.
var profiles = []Profile{
	{
		Name:        "development",
		Description: "small pool, quick failures for fast feedback",
		Pool: Overrides{
			ConnectionLimit: some(5),
			PoolTimeout:     some(10 * time.Second),
			ConnectTimeout:  some(5 * time.Second),
		},
	},
	{
		Name:        "testing",
		Description: "minimal pool for isolated, predictable tests; no hanging statements",
		Pool: Overrides{
			ConnectionLimit:  some(3),
			PoolTimeout:      some(5 * time.Second),
			ConnectTimeout:   some(3 * time.Second),
			StatementTimeout: some(10 * time.Second),
		},
	},
	{
		Name:        "production-web",
		Description: "balanced pool for typical web traffic; connections refreshed hourly",
		Pool: Overrides{
			ConnectionLimit:  some(20),
			PoolTimeout:      some(30 * time.Second),
			ConnectTimeout:   some(10 * time.Second),
			StatementTimeout: some(45 * time.Second),
			IdleTimeout:      some(600 * time.Second),
			MaxLifetime:      some(3600 * time.Second),
		},
	},
	{
		Name:        "high-traffic",
		Description: "large pool, shorter waits and aggressive cleanup under load",
		Pool: Overrides{
			ConnectionLimit:    some(50),
			PoolTimeout:        some(20 * time.Second),
			ConnectTimeout:     some(5 * time.Second),
			StatementTimeout:   some(30 * time.Second),
			IdleTimeout:        some(300 * time.Second),
			MaxLifetime:        some(1800 * time.Second),
			PreparedStatements: some(true),
		},
	},
	{
		Name:        "background-jobs",
		Description: "moderate pool, patient waits and long statements for batch work",
		Pool: Overrides{
			ConnectionLimit:  some(10),
			PoolTimeout:      some(60 * time.Second),
			ConnectTimeout:   some(15 * time.Second),
			StatementTimeout: some(300 * time.Second),
			IdleTimeout:      some(1800 * time.Second),
			MaxLifetime:      some(7200 * time.Second),
		},
	},
}

// Profiles returns the built-in environment profiles in documented order.
func Profiles() []Profile { return append([]Profile(nil), profiles...) }

// LookupProfile returns the built-in profile with the given name.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

func profileNames() []string {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	return names
}
