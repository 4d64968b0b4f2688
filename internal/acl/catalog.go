// Package acl is ferry's model of Redis 7.0's access control lists: users
// with passwords, flags and selectors that say which commands, keys and
// Pub/Sub channels each may use; the rules that change them (ACL SETUSER's
// and the ACL file's), their descriptions (ACL LIST, ACL GETUSER), the
// permission checks and the ACL log.
//
// The package knows nothing of the command table: the command layer
// describes its commands in a Catalog once, and passes to the checks what
// they need of a command line (its keys with their access, its channels).
package acl

import (
	"sort"
	"strings"
)

// Category is a set of ACL categories, one bit each, in CategoryNames's
// order.
type Category uint64

// CategoryNames are Redis 7.0's command categories, in ACL CAT's order.
var CategoryNames = []string{
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
	"connection", "transaction", "scripting",
}

// CategoryByName returns the category named name (any case), or 0.
func CategoryByName(name string) Category {
	for i, n := range CategoryNames {
		if strings.EqualFold(n, name) {
			return 1 << i
		}
	}
	return 0
}

// maxCommands is the number of command ids a selector's bitmap holds; the
// last one stands for commands added later ("future commands", set only by
// +@all), as in Redis.
const maxCommands = 1024

// futureBit is the id that +@all sets and nothing else does.
const futureBit = maxCommands - 1

// Cmd is a command (or subcommand) as ACL rules see it.
type Cmd struct {
	// ID indexes the selectors' command bitmaps.
	ID int
	// Name is the full lowercase name: "get", "config|get".
	Name string
	// Categories are the command's ACL categories.
	Categories Category
	// NoAuth marks commands every user may run (AUTH, HELLO...).
	NoAuth bool
	// Parent is the container of a subcommand.
	Parent *Cmd
	subs   []*Cmd
	byName map[string]*Cmd // subcommands by lowercase name
}

// Catalog is the set of commands ACL rules name.
type Catalog struct {
	all    []*Cmd          // by id
	top    []*Cmd          // top-level commands, sorted by name
	byName map[string]*Cmd // top-level commands by lowercase name
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{byName: make(map[string]*Cmd)} }

// Add registers a command; a subcommand ("config|get") after its
// container. It returns the command, whose ID the caller keeps.
func (c *Catalog) Add(name string, cats []string, noAuth bool) *Cmd {
	name = strings.ToLower(name)
	cmd := &Cmd{ID: len(c.all), Name: name, NoAuth: noAuth}
	for _, n := range cats {
		cmd.Categories |= CategoryByName(n)
	}
	if len(c.all) >= futureBit {
		panic("acl: too many commands")
	}
	c.all = append(c.all, cmd)
	if parent, sub, ok := strings.Cut(name, "|"); ok {
		p := c.byName[parent]
		cmd.Parent = p
		if p.byName == nil {
			p.byName = make(map[string]*Cmd)
		}
		p.byName[sub] = cmd
		p.subs = append(p.subs, cmd)
		sort.Slice(p.subs, func(i, j int) bool { return p.subs[i].Name < p.subs[j].Name })
		return cmd
	}
	c.byName[name] = cmd
	c.top = append(c.top, cmd)
	sort.Slice(c.top, func(i, j int) bool { return c.top[i].Name < c.top[j].Name })
	return cmd
}

// Lookup finds a command by its full name ("get", "config|get"), in any
// case, as Redis's ACL rules look commands up.
func (c *Catalog) Lookup(name string) *Cmd {
	parts := strings.Split(strings.ToLower(name), "|")
	if len(parts) > 2 {
		return nil
	}
	cmd := c.byName[parts[0]]
	if cmd == nil || len(parts) == 1 {
		return cmd
	}
	if cmd.byName == nil {
		return nil
	}
	return cmd.byName[parts[1]]
}

// Len returns the number of commands and subcommands.
func (c *Catalog) Len() int { return len(c.all) }

// InCategory lists the full names of the commands (and subcommands) in
// category cat, as ACL CAT does (sorted by name here; Redis's order is
// its hash table's).
func (c *Catalog) InCategory(cat Category) []string {
	var out []string
	var walk func(cmds []*Cmd)
	walk = func(cmds []*Cmd) {
		for _, cmd := range cmds {
			if cmd.Categories&cat != 0 {
				out = append(out, cmd.Name)
			}
			walk(cmd.subs)
		}
	}
	walk(c.top)
	return out
}
