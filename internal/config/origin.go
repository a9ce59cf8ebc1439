package config

// OriginKind says which layer of the precedence chain a setting's value came
// from (see the package documentation for the order: a service type ranks above
// its database's URL and fields, below the service's own fields).
type OriginKind uint8

// The layers, weakest first.
const (
	FromDefault OriginKind = iota
	FromProfile
	FromPreset
	FromServiceType
	FromURL
	FromFile
)

// Origin says where a resolved setting's value came from.
//
// Name is the profile, preset or service type for the built-in layers and is
// empty otherwise. Pos is set for FromURL (the position of the url field)
// and FromFile (the position of the value), and is the zero Pos otherwise.
// The zero Origin is "default".
type Origin struct {
	Kind OriginKind
	Name string
	Pos  Pos
}

// String formats the origin the way `motorpool check` prints it: "default",
// "profile production-web", "preset postgres-api", "service type
// api_gateway", "url", or the file position "motorpool.yaml:12:5".
func (o Origin) String() string {
	switch o.Kind {
	case FromProfile:
		return "profile " + o.Name
	case FromPreset:
		return "preset " + o.Name
	case FromServiceType:
		return "service type " + o.Name
	case FromURL:
		return "url"
	case FromFile:
		return o.Pos.String()
	}
	return "default"
}

// Written reports whether a person wrote the value (in a URL or in the file)
// rather than it coming from a built-in table.
func (o Origin) Written() bool { return o.Kind >= FromURL }
