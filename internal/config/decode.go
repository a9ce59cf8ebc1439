package config

import (
	"fmt"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML node tree, collecting problems with their positions
// instead of stopping at the first.
type decoder struct {
	file  string
	env   func(string) (string, bool)
	errs  []*Problem
	warns []*Problem
	steps int // nodes visited; bounded so that alias chains cannot explode
}

// maxSteps bounds the nodes one configuration may visit, aliases included.
const maxSteps = 200000

// pos is where n is; a nil node is the file as a whole.
func (d *decoder) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: d.file}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorAt(p Pos, path, format string, args ...any) {
	d.errs = append(d.errs, &Problem{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnAt(p Pos, path, format string, args ...any) {
	d.warns = append(d.warns, &Problem{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errorAt(d.pos(n), path, format, args...)
}

// resolve follows aliases. It returns nil once the configuration has
// visited too many nodes (an error is recorded once).
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		d.steps++
		if d.steps > maxSteps {
			break
		}
		n = n.Alias
	}
	d.steps++
	if d.steps == maxSteps+1 {
		d.errorf(n, "", "configuration too large or too deeply aliased (more than %d nodes)", maxSteps)
	}
	if d.steps > maxSteps {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a scalar"
}

// join appends a key to a dotted path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping calls fn for each entry of the mapping n, in order. Keys must be
// strings, given once, and in known unless known is nil. A null node is an
// empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, fn func(key string, k, v *yaml.Node)) {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping (key: value lines), got %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be names, got %s", kindName(k))
			continue
		}
		key := k.Value
		switch {
		case key == "<<":
			d.errorf(k, path, "merge keys (<<) are not supported")
		case seen[key]:
			d.errorf(k, join(path, key), "given twice")
		case known != nil && !slices.Contains(known, key):
			d.errorf(k, path, "unknown key %q%s", truncate(key, 60), didYouMean(key, known))
		default:
			seen[key] = true
			fn(key, k, n.Content[i+1])
		}
	}
}

// scalar returns the string value of a scalar node with environment
// variables expanded. A null node is "". ok is false when the node is not a
// scalar or expansion fails; the problem is recorded.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	n = d.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a single value, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	v, err := expandEnv(n.Value, d.env)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return "", false
	}
	return v, true
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) bool {
	v, ok := d.scalar(n, path)
	if ok {
		*dst = v
	}
	return ok
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) bool {
	v, ok := d.scalar(n, path)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		d.errorf(n, path, "want true or false, got %q", truncate(v, 40))
		return false
	}
	*dst = b
	return true
}

func (d *decoder) integer(n *yaml.Node, path string, lo, hi int, dst *int) bool {
	v, ok := d.scalar(n, path)
	if !ok {
		return false
	}
	i, err := countParser(lo, hi)(lastKey(path), v, 0)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return false
	}
	*dst = i
	return true
}

func (d *decoder) number(n *yaml.Node, path string, dst *float64) bool {
	v, ok := d.scalar(n, path)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f || f > 1e15 || f < -1e15 {
		d.errorf(n, path, "want a number, got %q", truncate(v, 40))
		return false
	}
	*dst = f
	return true
}

// list decodes a sequence of strings. A null node is an empty list.
func (d *decoder) list(n *yaml.Node, path string) []string {
	return d.checkedList(n, path, nil)
}

// checkedList is list keeping only the items check accepts; check records
// the problem with an item it refuses. A nil check accepts every item.
func (d *decoder) checkedList(n *yaml.Node, path string, check func(item *yaml.Node, path, v string) bool) []string {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", kindName(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		if v, ok := d.scalar(item, itemPath); ok && (check == nil || check(item, itemPath, v)) {
			out = append(out, v)
		}
	}
	return out
}

// setting decodes the value of a pool setting written in the file into o.
func (d *decoder) setting(n *yaml.Node, path string, name Setting, o *Overrides) bool {
	v, ok := d.scalar(n, path)
	if !ok {
		return false
	}
	if err := specByName[name].parse(o, string(name), v, 0); err != nil {
		d.errorf(n, path, "%v", err)
		return false
	}
	return true
}

func lastKey(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return path
}

// settingNames returns the names of all pool settings, for the keys of
// databases and services.
func settingNames() []string {
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = string(sp.name)
	}
	return names
}
