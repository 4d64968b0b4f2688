package command

import (
	"sort"
	"strings"
)

// Flags describe a command, as Redis's command flags do.
type Flags uint32

// Command flags.
const (
	// Write marks a command that may modify the dataset. Only Write commands
	// are refused on replicas and reach the log.
	Write Flags = 1 << iota
	// ReadOnly marks a command that reads keys.
	ReadOnly
	// Admin marks an administrative command.
	Admin
	// PubSub marks a Pub/Sub command.
	PubSub
	// NoScript marks a command not allowed from scripts.
	NoScript
	// Loading marks a command allowed while the dataset loads.
	Loading
	// Stale marks a command allowed on a replica whose link is down.
	Stale
	// Fast marks an O(1) or O(log N) command.
	Fast
	// Blocking marks a command that may block the client.
	Blocking
	// NoMulti marks a command refused inside MULTI.
	NoMulti
	// NoAuth marks a command allowed before authentication.
	NoAuth
	// DenyOOM marks a command that may grow memory.
	DenyOOM
	// MultiControl marks MULTI, EXEC, DISCARD, WATCH, QUIT and RESET: run at
	// once even inside MULTI.
	MultiControl
	// AllowBusy marks a command allowed while a script runs.
	AllowBusy
	// SkipSlowlog marks a command kept out of the slow log.
	SkipSlowlog
	// SubContext marks a command allowed in RESP2 Pub/Sub context.
	SubContext
	// SkipMonitor marks a command MONITOR does not show (EVAL shows itself
	// before its script's commands).
	SkipMonitor
	// NoMandatoryKeys marks a command whose keys may be none.
	NoMandatoryKeys
	// MayReplicate marks a command that is not a write but may propagate
	// an effect (PFCOUNT's cache update, PUBLISH): read-only scripts may
	// not call it, as Redis's may_replicate flag (not shown by COMMAND in
	// 7.0).
	MayReplicate
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{Write, "write"}, {ReadOnly, "readonly"}, {DenyOOM, "denyoom"}, {Admin, "admin"},
	{PubSub, "pubsub"}, {NoScript, "noscript"}, {Blocking, "blocking"}, {Loading, "loading"},
	{Stale, "stale"}, {NoMulti, "no_multi"}, {NoAuth, "no_auth"}, {Fast, "fast"},
	{AllowBusy, "allow_busy"},
}

// Names returns the flag names COMMAND INFO reports, in Redis's order.
func (f Flags) Names() []string {
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Handler runs a command. It reads arguments from c.Args, writes exactly one
// reply to c.W, and records effects with c.Propagate*.
type Handler func(c *Ctx)

// Command describes one command.
type Command struct {
	// Name is the lowercase name; a subcommand's is "parent|sub".
	Name string
	// Arity is Redis's: N means exactly N arguments (the name included),
	// -N at least N.
	Arity int
	Flags Flags
	// FirstKey, LastKey and Step locate key arguments (LastKey -1: the last argument).
	FirstKey, LastKey, Step int
	// Group is the documentation group ("string", "list"...).
	Group string
	// Summary is a one-line description for COMMAND DOCS.
	Summary string
	// Since is the Redis version that introduced the command.
	Since string
	// ACL lists the ACL categories without '@'.
	ACL     []string
	Handler Handler
	// Sub holds the subcommands of a container command (CONFIG, CLIENT...).
	Sub map[string]*Command

	stats cmdStats     // INFO commandstats (observe.go); guarded by the engine lock
	hist  *latencyHist // INFO latencystats, LATENCY HISTOGRAM (observe.go)
}

// Table is the set of commands an engine serves.
type Table struct {
	cmds map[string]*Command
}

// Add registers commands. A name containing '|' registers a subcommand of
// an already registered container.
func (t *Table) Add(cmds ...*Command) {
	if t.cmds == nil {
		t.cmds = make(map[string]*Command)
	}
	for _, cmd := range cmds {
		if parent, sub, ok := strings.Cut(cmd.Name, "|"); ok {
			p := t.cmds[parent]
			if p.Sub == nil {
				p.Sub = make(map[string]*Command)
			}
			p.Sub[sub] = cmd
			continue
		}
		t.cmds[cmd.Name] = cmd
	}
}

// Lookup finds a command by its (any case) name.
func (t *Table) Lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return t.cmds[strings.ToLower(string(name))]
	}
	low := buf[:len(name)]
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return t.cmds[string(low)]
}

// All returns every top-level command sorted by name.
func (t *Table) All() []*Command {
	out := make([]*Command, 0, len(t.cmds))
	for _, c := range t.cmds {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len returns the number of top-level commands.
func (t *Table) Len() int { return len(t.cmds) }

// Subcommands returns cmd's subcommands sorted by name.
func (cmd *Command) Subcommands() []*Command {
	out := make([]*Command, 0, len(cmd.Sub))
	for _, c := range cmd.Sub {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Keys returns the key arguments of args for cmd.
func (cmd *Command) Keys(args [][]byte) [][]byte {
	if cmd.FirstKey <= 0 {
		return nil
	}
	last := cmd.LastKey
	if last < 0 {
		last = len(args) + last
	}
	step := cmd.Step
	if step <= 0 {
		step = 1
	}
	var keys [][]byte
	for i := cmd.FirstKey; i <= last && i < len(args); i += step {
		keys = append(keys, args[i])
	}
	return keys
}
