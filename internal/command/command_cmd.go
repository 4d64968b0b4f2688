package command

import (
	"strconv"
	"strings"
	"sync"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
)

// COMMAND, COMMAND COUNT, DOCS, GETKEYS, GETKEYSANDFLAGS, INFO, LIST and
// HELP, replying in Redis 7.0's shapes from the command table and three
// tables of this file: where each command's keys are (key specs, which
// GETKEYS also uses), the tips clients route by, and each command's
// arguments (COMMAND DOCS, from which redis-cli builds its hints).
// Summaries are ferry's own (Command.Summary).

func registerCommandCmd(t *Table) {
	f := Loading | Stale
	acl := []string{"slow", "connection"}
	t.Add(
		&Command{Name: "command", Arity: -1, Flags: f, Group: "server", Since: "2.8.13", Summary: "Describes every command: arity, flags, keys, ACL categories.", ACL: acl, Handler: commandCmd},
		&Command{Name: "command|count", Arity: 2, Flags: f, Group: "server", Since: "2.8.13", Summary: "Replies with the number of commands ferry serves.", ACL: acl, Handler: commandCountCmd},
		&Command{Name: "command|docs", Arity: -2, Flags: f, Group: "server", Since: "7.0.0", Summary: "Describes commands for people: summary, version, group and arguments.", ACL: acl, Handler: commandDocsCmd},
		&Command{Name: "command|getkeys", Arity: -4, Flags: f, Group: "server", Since: "2.8.13", Summary: "Replies with the keys a full command line would access.", ACL: acl, Handler: commandGetkeysCmd},
		&Command{Name: "command|getkeysandflags", Arity: -4, Flags: f, Group: "server", Since: "7.0.0", Summary: "Replies with the keys a full command line would access, and how it would access each.", ACL: acl, Handler: commandGetkeysandflagsCmd},
		&Command{Name: "command|help", Arity: 2, Flags: f, Group: "server", Since: "5.0.0", Summary: "Lists the COMMAND subcommands.", ACL: acl, Handler: commandHelpCmd},
		&Command{Name: "command|info", Arity: -2, Flags: f, Group: "server", Since: "2.8.13", Summary: "Describes the named commands, or all of them.", ACL: acl, Handler: commandInfoCmd},
		&Command{Name: "command|list", Arity: -2, Flags: f, Group: "server", Since: "7.0.0", Summary: "Replies with the names of the commands, optionally filtered.", ACL: acl, Handler: commandListCmd},
	)
}

func commandCmd(c *Ctx) {
	all := c.e.tab.All()
	c.W.Array(len(all))
	for _, cmd := range all {
		writeCommandInfo(c.W, cmd)
	}
}

func commandCountCmd(c *Ctx) { c.W.Int(int64(c.e.tab.Len())) }

func commandInfoCmd(c *Ctx) {
	if len(c.Args) == 2 {
		commandCmd(c)
		return
	}
	c.W.Array(len(c.Args) - 2)
	for _, a := range c.Args[2:] {
		if cmd := c.e.tab.lookupFullName(view(a)); cmd != nil {
			writeCommandInfo(c.W, cmd)
		} else {
			c.W.Null()
		}
	}
}

func commandDocsCmd(c *Ctx) {
	var cmds []*Command
	if len(c.Args) == 2 {
		cmds = c.e.tab.All()
	} else {
		for _, a := range c.Args[2:] {
			if cmd := c.e.tab.lookupFullName(view(a)); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.W.Map(len(cmds))
	for _, cmd := range cmds {
		c.W.BulkString(cmd.Name)
		writeCommandDocs(c.W, cmd)
	}
}

func commandListCmd(c *Ctx) {
	var match func(cmd *Command) bool
	for i := 2; i < len(c.Args); i++ {
		if !c.Is(i, "filterby") || len(c.Args)-1-i != 2 {
			c.Error(ErrSyntax)
			return
		}
		arg := c.Arg(i + 2)
		switch {
		case c.Is(i+1, "module"):
			match = func(*Command) bool { return false } // ferry has no modules
		case c.Is(i+1, "aclcat"):
			cat := strings.ToLower(arg)
			match = func(cmd *Command) bool {
				for _, a := range aclCategories(cmd) {
					if a == cat {
						return true
					}
				}
				return false
			}
		case c.Is(i+1, "pattern"):
			pat := strings.Clone(arg)
			match = func(cmd *Command) bool { return glob.MatchFold(pat, cmd.Name) }
		default:
			c.Error(ErrSyntax)
			return
		}
		i += 2
	}
	d := c.W.Defer()
	n := 0
	var walk func(cmds []*Command)
	walk = func(cmds []*Command) {
		for _, cmd := range cmds {
			if match == nil || match(cmd) {
				c.W.BulkString(cmd.Name)
				n++
			}
			if cmd.Sub != nil {
				walk(cmd.Subcommands())
			}
		}
	}
	walk(c.e.tab.All())
	c.W.SetArray(d, n)
}

func commandGetkeysCmd(c *Ctx)         { getkeys(c, false) }
func commandGetkeysandflagsCmd(c *Ctx) { getkeys(c, true) }

func getkeys(c *Ctx, withFlags bool) {
	args := c.Args[2:]
	cmd := c.e.tab.Lookup(args[0])
	if cmd != nil && cmd.Sub != nil && len(args) >= 2 {
		cmd = cmd.Sub[strings.ToLower(view(args[1]))]
	}
	if cmd == nil {
		c.Error("ERR Invalid command specified")
		return
	}
	m := metaFor(cmd)
	if !m.hasKeys() {
		c.Error("ERR The command has no key arguments")
		return
	}
	if (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity {
		c.Error("ERR Invalid number of arguments specified for command")
		return
	}
	keys := m.keys(args)
	if len(keys) == 0 && cmd.Flags&NoMandatoryKeys == 0 {
		c.Error("ERR Invalid arguments specified for command")
		return
	}
	c.W.Array(len(keys))
	for _, k := range keys {
		if !withFlags {
			c.W.Bulk(args[k.pos])
			continue
		}
		c.W.Array(2)
		c.W.Bulk(args[k.pos])
		c.W.Set(len(k.flags))
		for _, f := range k.flags {
			c.W.Status(f)
		}
	}
}

func commandHelpCmd(c *Ctx) {
	helpReply(c, "COMMAND",
		"(no subcommand)",
		"    Describe every command.",
		"COUNT",
		"    Reply with the number of commands.",
		"LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
		"    Reply with the names of the commands, optionally filtered.",
		"INFO [<command-name> ...]",
		"    Describe the named commands (all of them when none is named).",
		"DOCS [<command-name> ...]",
		"    Document the named commands (all of them when none is named).",
		"GETKEYS <full-command>",
		"    Reply with the keys of a full command line.",
		"GETKEYSANDFLAGS <full-command>",
		"    Reply with the keys of a full command line and how each is accessed.",
	)
}

// lookupFullName finds a command by its full name ("get", "config|get"),
// in any case.
func (t *Table) lookupFullName(name string) *Command {
	parent, sub, ok := strings.Cut(name, "|")
	cmd := t.Lookup([]byte(parent))
	if !ok || cmd == nil {
		return cmd
	}
	if cmd.Sub == nil || strings.Contains(sub, "|") {
		return nil
	}
	return cmd.Sub[strings.ToLower(sub)]
}

// noAsyncLoading lists the commands Redis flags no_async_loading, a flag
// ferry's Flags lack (it never loads while serving).
var noAsyncLoading = map[string]bool{"save": true, "bgsave": true}

// commandFlagNames are the flags COMMAND INFO reports, in Redis's order,
// each with how a command gets it.
var commandFlagNames = []struct {
	name string
	has  func(cmd *Command, m *cmdMeta) bool
}{
	{"write", flag(Write)}, {"readonly", flag(ReadOnly)}, {"denyoom", flag(DenyOOM)},
	{"admin", flag(Admin)}, {"pubsub", flag(PubSub)}, {"noscript", flag(NoScript)},
	{"blocking", flag(Blocking)}, {"loading", flag(Loading)}, {"stale", flag(Stale)},
	{"skip_monitor", flag(SkipMonitor)}, {"skip_slowlog", flag(SkipSlowlog)}, {"fast", flag(Fast)},
	{"no_auth", flag(NoAuth)}, {"no_mandatory_keys", flag(NoMandatoryKeys)},
	{"no_async_loading", func(cmd *Command, _ *cmdMeta) bool { return noAsyncLoading[cmd.Name] }},
	{"no_multi", flag(NoMulti)},
	{"movablekeys", func(_ *Command, m *cmdMeta) bool { return m.movable }},
	{"allow_busy", flag(AllowBusy)},
}

func flag(f Flags) func(*Command, *cmdMeta) bool {
	return func(cmd *Command, _ *cmdMeta) bool { return cmd.Flags&f != 0 }
}

func commandFlags(cmd *Command, m *cmdMeta) []string {
	var out []string
	for _, n := range commandFlagNames {
		if n.has(cmd, m) {
			out = append(out, n.name)
		}
	}
	return out
}

// aclCategoryOrder is Redis's order of ACL categories.
var aclCategoryOrder = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting"}

// aclCategories returns cmd's ACL categories, with those its flags imply
// (write, read, admin and dangerous, pubsub, fast, blocking, else slow), in
// Redis's order.
func aclCategories(cmd *Command) []string {
	has := make(map[string]bool, len(cmd.ACL)+2)
	for _, a := range cmd.ACL {
		has[strings.TrimPrefix(strings.ToLower(a), "@")] = true
	}
	f := cmd.Flags
	if f&Write != 0 {
		has["write"] = true
	}
	if f&ReadOnly != 0 && !has["scripting"] {
		has["read"] = true
	}
	if f&Admin != 0 {
		has["admin"], has["dangerous"] = true, true
	}
	if f&PubSub != 0 {
		has["pubsub"] = true
	}
	if f&Fast != 0 {
		has["fast"] = true
	}
	if f&Blocking != 0 {
		has["blocking"] = true
	}
	if !has["fast"] {
		has["slow"] = true
	}
	var out []string
	for _, c := range aclCategoryOrder {
		if has[c] {
			out = append(out, c)
		}
	}
	return out
}

// writeCommandInfo writes one COMMAND INFO entry.
func writeCommandInfo(w *resp.Writer, cmd *Command) {
	m := metaFor(cmd)
	w.Array(10)
	w.BulkString(cmd.Name)
	w.Int(int64(cmd.Arity))
	flags := commandFlags(cmd, m)
	w.Set(len(flags))
	for _, f := range flags {
		w.Status(f)
	}
	w.Int(int64(m.first))
	w.Int(int64(m.last))
	w.Int(int64(m.step))
	cats := aclCategories(cmd)
	w.Set(len(cats))
	for _, c := range cats {
		w.Status("@" + c)
	}
	w.Set(len(m.tips))
	for _, t := range m.tips {
		w.BulkString(t)
	}
	w.Set(len(m.specs))
	for _, s := range m.specs {
		s.write(w)
	}
	if cmd.Sub == nil {
		w.Set(0)
		return
	}
	subs := cmd.Subcommands()
	w.Array(len(subs))
	for _, s := range subs {
		writeCommandInfo(w, s)
	}
}

// writeCommandDocs writes one COMMAND DOCS entry (the map after the name).
func writeCommandDocs(w *resp.Writer, cmd *Command) {
	m := metaFor(cmd)
	group := cmd.Group
	if group == "" {
		group = "generic"
	}
	dep, depOK := deprecations[cmd.Name]
	n := 3
	if depOK {
		n += 3
	}
	if len(m.args) > 0 {
		n++
	}
	if cmd.Sub != nil {
		n++
	}
	w.Map(n)
	w.BulkString("summary")
	w.BulkString(cmd.Summary)
	w.BulkString("since")
	w.BulkString(cmd.Since)
	w.BulkString("group")
	w.BulkString(group)
	if depOK {
		since, by, _ := strings.Cut(dep, " ")
		w.BulkString("doc_flags")
		w.Set(1)
		w.Status("deprecated")
		w.BulkString("deprecated_since")
		w.BulkString(since)
		w.BulkString("replaced_by")
		w.BulkString(by)
	}
	if len(m.args) > 0 {
		w.BulkString("arguments")
		writeArgs(w, m.args)
	}
	if cmd.Sub != nil {
		subs := cmd.Subcommands()
		w.BulkString("subcommands")
		w.Map(len(subs))
		for _, s := range subs {
			w.BulkString(s.Name)
			writeCommandDocs(w, s)
		}
	}
}

// deprecations maps deprecated commands to "version replacement".
var deprecations = map[string]string{
	"brpoplpush":       "6.2.0 BLMOVE source destination RIGHT LEFT timeout",
	"getset":           "6.2.0 SET key value GET",
	"hmset":            "4.0.0 HSET key field value [field value ...]",
	"rpoplpush":        "6.2.0 LMOVE source destination RIGHT LEFT",
	"substr":           "2.0.0 GETRANGE",
	"zrangebylex":      "6.2.0 ZRANGE key min max BYLEX",
	"zrangebyscore":    "6.2.0 ZRANGE key min max BYSCORE",
	"zrevrange":        "6.2.0 ZRANGE key start stop REV",
	"zrevrangebylex":   "6.2.0 ZRANGE key max min BYLEX REV",
	"zrevrangebyscore": "6.2.0 ZRANGE key max min BYSCORE REV",
}

// cmdMeta is what COMMAND reports about a command beyond the table:
// key specs (and the legacy first/last/step derived from them), tips and
// documented arguments.
type cmdMeta struct {
	specs             []keySpec
	first, last, step int
	movable           bool
	tips              []string
	args              []*cmdArg
	// getkeys overrides the key specs for GETKEYS (SORT's STORE, SET's GET).
	getkeys func(args [][]byte) []keyRef
}

var (
	metaMu    sync.Mutex
	metaCache = map[string]*cmdMeta{}
)

// metaFor returns cmd's metadata, built once per command name.
func metaFor(cmd *Command) *cmdMeta {
	metaMu.Lock()
	defer metaMu.Unlock()
	if m := metaCache[cmd.Name]; m != nil {
		return m
	}
	m := &cmdMeta{}
	if s, ok := keySpecTable[cmd.Name]; ok {
		m.specs = parseKeySpecs(s)
	} else if cmd.FirstKey > 0 {
		// Not in the table: derive one range spec from the command.
		flags := []string{"RW", "update"}
		if cmd.Flags&Write == 0 {
			flags = []string{"RO", "access"}
		}
		last := cmd.LastKey
		if last >= 0 {
			last -= cmd.FirstKey
		}
		m.specs = []keySpec{{flags: flags, index: cmd.FirstKey, lastKey: last, keyStep: max(cmd.Step, 1)}}
	}
	if n := specNotes[cmd.Name]; n != "" {
		m.specs[0].notes = n
	}
	m.legacyRange()
	if t := tipTable[cmd.Name]; t != "" {
		m.tips = strings.Split(t, ",")
	}
	if s, ok := argSyntax[cmd.Name]; ok {
		m.args = parseArgs(s)
		m.assignKeySpecIndexes()
	}
	switch cmd.Name {
	case "sort":
		m.getkeys = sortKeys(true)
	case "sort_ro":
		m.getkeys = sortKeys(false)
	case "set":
		m.getkeys = setKeys
	case "bitfield":
		m.getkeys = bitfieldKeys
	}
	metaCache[cmd.Name] = m
	return m
}

// keySpec is one of Redis 7.0's key specifications.
type keySpec struct {
	flags []string
	// begin_search: index (> 0), keyword, or unknown.
	index     int
	keyword   string
	startFrom int
	// find_keys: range (lastKey, keyStep, limit), keynum, or unknown.
	keynum                        bool
	lastKey, keyStep, limit       int
	keynumIdx, keyFirst, keynStep int
	unknownFind                   bool
	notes                         string
}

func (s *keySpec) isRange() bool {
	return s.index > 0 && s.keyword == "" && !s.keynum && !s.unknownFind
}

func (s *keySpec) hasFlag(f string) bool {
	for _, x := range s.flags {
		if x == f {
			return true
		}
	}
	return false
}

func (s *keySpec) write(w *resp.Writer) {
	if s.notes != "" {
		w.Map(4)
		w.BulkString("notes")
		w.BulkString(s.notes)
	} else {
		w.Map(3)
	}
	w.BulkString("flags")
	w.Set(len(s.flags))
	for _, f := range s.flags {
		w.Status(f)
	}
	w.BulkString("begin_search")
	w.Map(2)
	w.BulkString("type")
	switch {
	case s.index > 0:
		w.BulkString("index")
		w.BulkString("spec")
		w.Map(1)
		w.BulkString("index")
		w.Int(int64(s.index))
	case s.keyword != "":
		w.BulkString("keyword")
		w.BulkString("spec")
		w.Map(2)
		w.BulkString("keyword")
		w.BulkString(s.keyword)
		w.BulkString("startfrom")
		w.Int(int64(s.startFrom))
	default:
		w.BulkString("unknown")
		w.BulkString("spec")
		w.Map(0)
	}
	w.BulkString("find_keys")
	w.Map(2)
	w.BulkString("type")
	switch {
	case s.unknownFind:
		w.BulkString("unknown")
		w.BulkString("spec")
		w.Map(0)
	case s.keynum:
		w.BulkString("keynum")
		w.BulkString("spec")
		w.Map(3)
		w.BulkString("keynumidx")
		w.Int(int64(s.keynumIdx))
		w.BulkString("firstkey")
		w.Int(int64(s.keyFirst))
		w.BulkString("keystep")
		w.Int(int64(s.keynStep))
	default:
		w.BulkString("range")
		w.BulkString("spec")
		w.Map(3)
		w.BulkString("lastkey")
		w.Int(int64(s.lastKey))
		w.BulkString("keystep")
		w.Int(int64(s.keyStep))
		w.BulkString("limit")
		w.Int(int64(s.limit))
	}
}

// legacyRange derives COMMAND INFO's first key, last key and step from the
// key specs, and the movablekeys flag, as Redis's
// populateCommandLegacyRangeSpec does.
func (m *cmdMeta) legacyRange() {
	if len(m.specs) == 0 {
		return
	}
	if len(m.specs) == 1 && m.specs[0].isRange() {
		s := m.specs[0]
		m.first, m.step = s.index, s.keyStep
		m.last = s.lastKey
		if m.last >= 0 {
			m.last += s.index
		}
		m.movable = s.hasFlag("incomplete")
		return
	}
	// Redis keeps the largest last key comparing as unsigned, so that a
	// negative (from the end) last key wins.
	first, last, prevLast := 1<<31-1, uint32(0), uint32(0)
	for _, s := range m.specs {
		if !s.isRange() {
			m.movable = true
			continue
		}
		if s.keyStep != 1 || (prevLast != 0 && int(prevLast) != s.index-1) {
			m.movable = true
			continue
		}
		if s.hasFlag("incomplete") {
			m.movable = true
		}
		first = min(first, s.index)
		abs := s.lastKey
		if abs >= 0 {
			abs += s.index
		}
		last = max(last, uint32(int32(abs)))
		prevLast = last
	}
	if first == 1<<31-1 {
		m.movable = true
		return
	}
	m.first, m.last, m.step = first, int(int32(last)), 1
}

// hasKeys reports whether a spec names real keys (not only channels).
func (m *cmdMeta) hasKeys() bool {
	if m.getkeys != nil {
		return true
	}
	for i := range m.specs {
		if !m.specs[i].hasFlag("not_key") {
			return true
		}
	}
	return false
}

// keyRef is a key found in a command line: its position and access flags.
type keyRef struct {
	pos   int
	flags []string
}

// keys finds the keys of a command line (args[0] is the command name) as
// Redis's getKeysFromCommandWithSpecs does: by the key specs, else with the
// command's own rule.
func (m *cmdMeta) keys(args [][]byte) []keyRef {
	if m.getkeys != nil {
		return m.getkeys(args)
	}
	var out []keyRef
	for i := range m.specs {
		s := &m.specs[i]
		if s.hasFlag("not_key") {
			continue
		}
		refs, ok := s.find(args)
		if !ok {
			return m.keynumFallback(args)
		}
		out = append(out, refs...)
	}
	return out
}

// find applies one key spec to a command line.
func (s *keySpec) find(args [][]byte) ([]keyRef, bool) {
	argc := len(args)
	first := 0
	switch {
	case s.index > 0:
		first = s.index
	case s.keyword != "":
		start, end := s.startFrom, argc-1
		if start <= 0 {
			start, end = argc+s.startFrom, 1
		}
		for i := start; i != end; {
			if i >= argc || i < 1 {
				break
			}
			if strings.EqualFold(view(args[i]), s.keyword) {
				first = i + 1
				break
			}
			if start <= end {
				i++
			} else {
				i--
			}
		}
		if first == 0 {
			return nil, true
		}
	default:
		return nil, false
	}
	var last, step int
	switch {
	case s.unknownFind:
		return nil, false
	case s.keynum:
		step = s.keynStep
		if first+s.keynumIdx >= argc {
			return nil, false
		}
		n, ok := num.ParseInt(args[first+s.keynumIdx])
		if !ok || n < 0 || n > int64(argc) {
			return nil, false
		}
		first += s.keyFirst
		last = first + int(n) - 1
	default:
		step = s.keyStep
		switch {
		case s.lastKey >= 0:
			last = first + s.lastKey
		case s.limit == 0:
			last = argc + s.lastKey
		default:
			last = first + ((argc-first)/s.limit + s.lastKey)
		}
	}
	if last >= argc || last < first || first >= argc {
		return nil, false
	}
	var out []keyRef
	for i := first; i <= last; i += step {
		out = append(out, keyRef{pos: i, flags: s.flags})
	}
	if s.hasFlag("incomplete") {
		return out, false
	}
	return out, true
}

// keynumFallback is Redis's genericGetKeys for commands whose keys follow a
// count (ZUNIONSTORE, LMPOP...): used when the key specs do not apply. It
// reads the count like atoi and reports no flags.
func (m *cmdMeta) keynumFallback(args [][]byte) []keyRef {
	store, countAt := 0, 0
	for i := range m.specs {
		s := &m.specs[i]
		if s.keynum && s.index > 0 {
			countAt = s.index + s.keynumIdx
			if i > 0 && m.specs[0].isRange() {
				store = m.specs[0].index
			}
		}
	}
	if countAt == 0 || countAt >= len(args) {
		return nil
	}
	n := int(cAtoi(view(args[countAt])))
	firstAt := countAt + 1
	if n < 1 || n > len(args)-firstAt {
		return nil
	}
	var out []keyRef
	for i := 0; i < n; i++ {
		out = append(out, keyRef{pos: firstAt + i})
	}
	if store > 0 {
		out = append(out, keyRef{pos: store})
	}
	return out
}

// sortKeys finds SORT's keys: the sorted key, and the last STORE
// destination (not for SORT_RO).
func sortKeys(store bool) func(args [][]byte) []keyRef {
	return func(args [][]byte) []keyRef {
		out := []keyRef{{pos: 1, flags: []string{"RO", "access"}}}
		if !store {
			return out
		}
		dest := 0
		for i := 2; i < len(args); i++ {
			a := view(args[i])
			switch {
			case strings.EqualFold(a, "limit"):
				i += 2
			case strings.EqualFold(a, "get"), strings.EqualFold(a, "by"):
				i++
			case strings.EqualFold(a, "store") && i+1 < len(args):
				dest = i + 1
			}
		}
		if dest > 0 {
			out = append(out, keyRef{pos: dest, flags: []string{"OW", "update"}})
		}
		return out
	}
}

// setKeys finds SET's key: read too when GET is given.
func setKeys(args [][]byte) []keyRef {
	for _, a := range args[3:] {
		if strings.EqualFold(view(a), "get") {
			return []keyRef{{pos: 1, flags: []string{"RW", "access", "update"}}}
		}
	}
	return []keyRef{{pos: 1, flags: []string{"OW", "update"}}}
}

// bitfieldKeys is Redis's bitfieldGetKeys: BITFIELD only reads its key
// when all its subcommands are GET and OVERFLOW; SET, INCRBY or a syntax
// error make it a write.
func bitfieldKeys(args [][]byte) []keyRef {
	for i := 2; i < len(args); i++ {
		rest := len(args) - i - 1
		switch a := view(args[i]); {
		case strings.EqualFold(a, "get") && rest >= 2:
			i += 2
		case strings.EqualFold(a, "overflow") && rest >= 1:
			i++
		default:
			return []keyRef{{pos: 1, flags: []string{"RW", "access", "update"}}}
		}
	}
	return []keyRef{{pos: 1, flags: []string{"RO", "access"}}}
}

// parseKeySpecs reads the compact key spec notation of keySpecTable:
// specs separated by ';', each made of flags and a position:
//
//	@N        begin at index N (range: this key only)
//	@N..L     range with last key L (relative to N; negative from the end)
//	@N..L/S   and key step S; @N..L/S%K with limit K
//	@N#       keynum: count at N, keys after it (keynumidx 0, firstkey 1, step 1)
//	kw:WORD,F keyword WORD searched from F, then a range as "..L"
//	?         unknown begin_search and find_keys
func parseKeySpecs(s string) []keySpec {
	var out []keySpec
	for _, part := range strings.Split(s, ";") {
		var ks keySpec
		ks.keyStep = 1
		for _, f := range strings.Fields(part) {
			switch {
			case f == "?":
				ks.unknownFind = true
			case strings.HasPrefix(f, "@"):
				pos := f[1:]
				if p, ok := strings.CutSuffix(pos, "#"); ok {
					ks.keynum, ks.keyFirst, ks.keynStep = true, 1, 1
					pos = p
				}
				idx, rest, _ := strings.Cut(pos, "..")
				ks.index, _ = strconv.Atoi(idx)
				ks.parseRange(rest)
			case strings.HasPrefix(f, "kw:"):
				kw, rest, _ := strings.Cut(f[3:], "..")
				word, from, _ := strings.Cut(kw, ",")
				ks.keyword = word
				ks.startFrom, _ = strconv.Atoi(from)
				ks.parseRange(rest)
			default:
				ks.flags = append(ks.flags, f)
			}
		}
		out = append(out, ks)
	}
	return out
}

// parseRange reads "L", "L/S" or "L/S%K" (empty: 0/1%0).
func (ks *keySpec) parseRange(s string) {
	if s == "" {
		return
	}
	s, limit, _ := strings.Cut(s, "%")
	last, step, hasStep := strings.Cut(s, "/")
	ks.lastKey, _ = strconv.Atoi(last)
	if hasStep {
		ks.keyStep, _ = strconv.Atoi(step)
	}
	ks.limit, _ = strconv.Atoi(limit)
}

// keySpecTable holds the key specs of Redis 7.0's commands in the groups
// ferry serves, in parseKeySpecs notation. A command missing here gets
// one spec derived from its FirstKey/LastKey/Step.
// specNotes are the notes of a command's first key spec.
var specNotes = map[string]string{
	"eval":    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
	"eval_ro": "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
}

var keySpecTable = map[string]string{
	// strings
	"append": "RW insert @1", "decr": "RW access update @1", "decrby": "RW access update @1",
	"get": "RO access @1", "getdel": "RW access delete @1", "getex": "RW access update @1",
	"getrange": "RO access @1", "getset": "RW access update @1", "incr": "RW access update @1",
	"incrby": "RW access update @1", "incrbyfloat": "RW access update @1", "lcs": "RO access @1..1",
	"mget": "RO access @1..-1", "mset": "OW update @1..-1/2", "msetnx": "OW insert @1..-1/2",
	"psetex": "OW update @1", "set": "RW access update variable_flags @1", "setex": "OW update @1",
	"setnx": "OW insert @1", "setrange": "RW update @1", "strlen": "RO @1", "substr": "RO access @1",
	// keys
	"copy": "RO access @1; OW update @2", "del": "RM delete @1..-1", "dump": "RO access @1",
	"exists": "RO @1..-1", "expire": "RW update @1", "expireat": "RW update @1",
	"expiretime": "RO access @1", "move": "RW access update @1", "persist": "RW update @1",
	"pexpire": "RW update @1", "pexpireat": "RW update @1", "pexpiretime": "RO access @1",
	"pttl": "RO access @1", "rename": "RW access delete @1; OW update @2",
	"renamenx": "RW access delete @1; OW insert @2", "restore": "OW update @1",
	"sort": "RO access @1; RO access ?; OW update ?", "sort_ro": "RO access @1; RO access ?",
	"touch": "RO @1..-1", "ttl": "RO access @1", "type": "RO @1", "unlink": "RM delete @1..-1",
	"memory|usage":    "RO @2",
	"object|encoding": "RO @2", "object|freq": "RO @2", "object|idletime": "RO @2", "object|refcount": "RO @2",
	// hashes
	"hdel": "RW delete @1", "hexists": "RO @1", "hget": "RO access @1", "hgetall": "RO access @1",
	"hincrby": "RW access update @1", "hincrbyfloat": "RW access update @1", "hkeys": "RO access @1",
	"hlen": "RO @1", "hmget": "RO access @1", "hmset": "RW update @1", "hrandfield": "RO access @1",
	"hscan": "RO access @1", "hset": "RW update @1", "hsetnx": "RW insert @1", "hstrlen": "RO @1",
	"hvals": "RO access @1",
	// lists
	"blmove": "RW access delete @1; RW insert @2", "blmpop": "RW access delete @2#",
	"blpop": "RW access delete @1..-2", "brpop": "RW access delete @1..-2",
	"brpoplpush": "RW access delete @1; RW insert @2", "lindex": "RO access @1", "linsert": "RW insert @1",
	"llen": "RO @1", "lmove": "RW access delete @1; RW insert @2", "lmpop": "RW access delete @1#",
	"eval": "RW access update @2#", "evalsha": "RW access update @2#", "eval_ro": "RO access @2#", "evalsha_ro": "RO access @2#",
	"lpop": "RW access delete @1", "lpos": "RO access @1", "lpush": "RW insert @1", "lpushx": "RW insert @1",
	"lrange": "RO access @1", "lrem": "RW delete @1", "lset": "RW update @1", "ltrim": "RW delete @1",
	"rpop": "RW access delete @1", "rpoplpush": "RW access delete @1; RW insert @2",
	"rpush": "RW insert @1", "rpushx": "RW insert @1",
	// sets
	"sadd": "RW insert @1", "scard": "RO @1", "sdiff": "RO access @1..-1",
	"sdiffstore": "OW update @1; RO access @2..-1", "sinter": "RO access @1..-1",
	"sintercard": "RO access @1#", "sinterstore": "RW update @1; RO access @2..-1", "sismember": "RO @1",
	"smembers": "RO access @1", "smismember": "RO access @1", "smove": "RW access delete @1; RW insert @2",
	"spop": "RW access delete @1", "srandmember": "RO access @1", "srem": "RW delete @1",
	"sscan": "RO access @1", "sunion": "RO access @1..-1", "sunionstore": "OW update @1; RO access @2..-1",
	// sorted sets
	"bzmpop": "RW access delete @2#", "bzpopmax": "RW access delete @1..-2", "bzpopmin": "RW access delete @1..-2",
	"zadd": "RW update @1", "zcard": "RO @1", "zcount": "RO access @1", "zdiff": "RO access @1#",
	"zdiffstore": "OW update @1; RO access @2#", "zincrby": "RW access update @1", "zinter": "RO access @1#",
	"zintercard": "RO access @1#", "zinterstore": "OW update @1; RO access @2#", "zlexcount": "RO access @1",
	"zmpop": "RW access delete @1#", "zmscore": "RO access @1", "zpopmax": "RW access delete @1",
	"zpopmin": "RW access delete @1", "zrandmember": "RO access @1", "zrange": "RO access @1",
	"zrangebylex": "RO access @1", "zrangebyscore": "RO access @1", "zrangestore": "OW update @1; RO access @2",
	"zrank": "RO access @1", "zrem": "RW delete @1", "zremrangebylex": "RW delete @1",
	"zremrangebyrank": "RW delete @1", "zremrangebyscore": "RW delete @1", "zrevrange": "RO access @1",
	"zrevrangebylex": "RO access @1", "zrevrangebyscore": "RO access @1", "zrevrank": "RO access @1",
	"zscan": "RO access @1", "zscore": "RO access @1", "zunion": "RO access @1#",
	"zunionstore": "OW update @1; RO access @2#",
	// pub/sub (channels, not keys) and transactions
	"spublish": "not_key @1", "ssubscribe": "not_key @1..-1", "sunsubscribe": "not_key @1..-1",
	"watch": "RO @1..-1",
}

// tipTable lists the tips Redis 7.0 gives its commands (comma-separated).
var tipTable = map[string]string{
	"client|info": "nondeterministic_output", "client|list": "nondeterministic_output",
	"command": "nondeterministic_output_order", "command|docs": "nondeterministic_output_order",
	"command|info": "nondeterministic_output_order", "command|list": "nondeterministic_output_order",
	"config|set":    "request_policy:all_nodes,response_policy:all_succeeded",
	"memory|purge":  "request_policy:all_shards,response_policy:all_succeeded",
	"dbsize":        "request_policy:all_shards,response_policy:agg_sum",
	"del":           "request_policy:multi_shard,response_policy:agg_sum",
	"dump":          "nondeterministic_output",
	"exists":        "request_policy:multi_shard,response_policy:agg_sum",
	"flushall":      "request_policy:all_shards,response_policy:all_succeeded",
	"script|load":   "request_policy:all_nodes,response_policy:all_succeeded",
	"script|exists": "request_policy:all_shards,response_policy:agg_logical_and",
	"script|flush":  "request_policy:all_nodes,response_policy:all_succeeded",
	"script|kill":   "request_policy:all_shards,response_policy:one_succeeded",
	"flushdb":       "request_policy:all_shards,response_policy:all_succeeded",
	"hgetall":       "nondeterministic_output_order", "hkeys": "nondeterministic_output_order",
	"hrandfield": "nondeterministic_output", "hscan": "nondeterministic_output",
	"hvals":           "nondeterministic_output_order",
	"info":            "nondeterministic_output,request_policy:all_shards,response_policy:special",
	"keys":            "request_policy:all_shards,nondeterministic_output_order",
	"lastsave":        "nondeterministic_output",
	"mget":            "request_policy:multi_shard",
	"mset":            "request_policy:multi_shard,response_policy:all_succeeded",
	"msetnx":          "request_policy:multi_shard,response_policy:agg_min",
	"object|encoding": "nondeterministic_output", "object|freq": "nondeterministic_output",
	"object|idletime": "nondeterministic_output", "object|refcount": "nondeterministic_output",
	"ping":      "request_policy:all_shards,response_policy:all_succeeded",
	"pttl":      "nondeterministic_output",
	"randomkey": "request_policy:all_shards,nondeterministic_output",
	"scan":      "nondeterministic_output,request_policy:special",
	"sdiff":     "nondeterministic_output_order", "sinter": "nondeterministic_output_order",
	"smembers": "nondeterministic_output_order", "spop": "nondeterministic_output",
	"srandmember": "nondeterministic_output", "sscan": "nondeterministic_output",
	"sunion":      "nondeterministic_output_order",
	"time":        "nondeterministic_output",
	"touch":       "request_policy:multi_shard,response_policy:agg_sum",
	"ttl":         "nondeterministic_output",
	"unlink":      "request_policy:multi_shard,response_policy:agg_sum",
	"wait":        "request_policy:all_shards,response_policy:agg_min",
	"zrandmember": "nondeterministic_output", "zscan": "nondeterministic_output",
}

// cmdArg is one documented argument (COMMAND DOCS "arguments").
type cmdArg struct {
	name, typ, token string
	keySpec          int // -1: not a key
	optional         bool
	multiple         bool
	multipleToken    bool
	sub              []*cmdArg // oneof and block
}

func writeArgs(w *resp.Writer, args []*cmdArg) {
	w.Array(len(args))
	for _, a := range args {
		var flags []string
		if a.optional {
			flags = append(flags, "optional")
		}
		if a.multiple {
			flags = append(flags, "multiple")
		}
		if a.multipleToken {
			flags = append(flags, "multiple_token")
		}
		n := 2
		if a.keySpec >= 0 {
			n++
		}
		// A pure token always has one, even empty (MIGRATE's "").
		hasToken := a.token != "" || a.typ == "pure-token"
		if hasToken {
			n++
		}
		if len(flags) > 0 {
			n++
		}
		if a.sub != nil {
			n++
		}
		w.Map(n)
		w.BulkString("name")
		w.BulkString(a.name)
		w.BulkString("type")
		w.BulkString(a.typ)
		if a.keySpec >= 0 {
			w.BulkString("key_spec_index")
			w.Int(int64(a.keySpec))
		}
		if hasToken {
			w.BulkString("token")
			w.BulkString(a.token)
		}
		if len(flags) > 0 {
			w.BulkString("flags")
			w.Set(len(flags))
			for _, f := range flags {
				w.Status(f)
			}
		}
		if a.sub != nil {
			w.BulkString("arguments")
			writeArgs(w, a.sub)
		}
	}
}

// assignKeySpecIndexes numbers the key arguments by the key spec that
// finds them: in order, the last spec taking the rest.
func (m *cmdMeta) assignKeySpecIndexes() {
	next := 0
	var walk func(args []*cmdArg)
	walk = func(args []*cmdArg) {
		for _, a := range args {
			if a.typ == "key" {
				a.keySpec = min(next, max(len(m.specs)-1, 0))
				next++
			}
			walk(a.sub)
		}
	}
	walk(m.args)
}

// argTypes maps the type suffixes of argSyntax to COMMAND DOCS types.
var argTypes = map[string]string{"k": "key", "s": "string", "i": "integer", "d": "double", "p": "pattern", "t": "unix-time"}

// parseArgs reads the argument notation of argSyntax:
//
//	name[:t]    an argument; t is k (key), i, d, p (pattern), t (unix time)
//	            or s (default; "key" alone is a key); a name may hold ':'
//	            ("ip:port") when what follows is no type letter
//	TOKEN       a pure token; before an argument or group, that one's token
//	[...]       optional; (...) a group; '|' separates alternatives (oneof);
//	            several arguments in one alternative make a block
//	x...        x may repeat; a token-led group followed by ... repeats with
//	            its token (multiple_token)
func parseArgs(s string) []*cmdArg {
	p := &argParser{toks: tokenizeArgs(s)}
	return p.seq(false)
}

type argParser struct {
	toks []string
	i    int
}

func tokenizeArgs(s string) []string {
	var out []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == ' ':
			flush()
		case strings.HasPrefix(s[i:], "..."):
			flush()
			out = append(out, "...")
			i += 2
		case strings.IndexByte("[]()|", ch) >= 0:
			flush()
			out = append(out, string(ch))
		default:
			cur.WriteByte(ch)
		}
	}
	flush()
	return out
}

func isToken(w string) bool {
	up := false
	for _, ch := range w {
		switch {
		case ch >= 'A' && ch <= 'Z':
			up = true
		case ch >= '0' && ch <= '9', ch == '-', ch == '_':
		default:
			return false
		}
	}
	return up
}

// seq parses items until ')' ']' '|' or the end. Inside a group, a token
// followed by one item becomes that item's token.
func (p *argParser) seq(inGroup bool) []*cmdArg {
	var items []*cmdArg
	pendingToken := ""
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		if t == ")" || t == "]" || t == "|" {
			break
		}
		p.i++
		var a *cmdArg
		switch {
		case t == "[" || t == "(":
			a = p.group(t == "[")
		case isToken(t):
			if p.i < len(p.toks) && p.toks[p.i] != ")" && p.toks[p.i] != "]" && p.toks[p.i] != "|" && !isToken(p.toks[p.i]) && p.toks[p.i] != "..." {
				if pendingToken != "" {
					items = append(items, &cmdArg{name: strings.ToLower(pendingToken), typ: "pure-token", token: pendingToken, keySpec: -1})
				}
				pendingToken = t
				continue
			}
			a = &cmdArg{name: strings.ToLower(t), typ: "pure-token", token: t, keySpec: -1}
		default:
			name, kind := t, ""
			if i := strings.LastIndexByte(t, ':'); i >= 0 && argTypes[t[i+1:]] != "" {
				name, kind = t[:i], argTypes[t[i+1:]]
			}
			if kind == "" {
				kind = "string"
				if name == "key" {
					kind = "key"
				}
			}
			a = &cmdArg{name: name, typ: kind, keySpec: -1}
		}
		if p.i < len(p.toks) && p.toks[p.i] == "..." {
			p.i++
			a.multiple = true
			if a.token != "" && a.typ != "pure-token" {
				a.multipleToken = true
			}
		}
		if pendingToken != "" {
			if inGroup && len(items) == 0 && p.more() {
				// TOKEN a b...: a block led by the token.
				rest := append([]*cmdArg{a}, p.seq(true)...)
				return []*cmdArg{{name: strings.ToLower(pendingToken), typ: "block", token: pendingToken, keySpec: -1, sub: rest}}
			}
			a.token = pendingToken
			pendingToken = ""
		}
		items = append(items, a)
	}
	if pendingToken != "" {
		items = append(items, &cmdArg{name: strings.ToLower(pendingToken), typ: "pure-token", token: pendingToken, keySpec: -1})
	}
	return items
}

// more reports whether the current sequence goes on.
func (p *argParser) more() bool {
	if p.i >= len(p.toks) {
		return false
	}
	t := p.toks[p.i]
	return t != ")" && t != "]" && t != "|"
}

// group parses the inside of [...] or (...) and the closing bracket.
func (p *argParser) group(optional bool) *cmdArg {
	var alts []*cmdArg
	for {
		items := p.seq(true)
		switch len(items) {
		case 0:
		case 1:
			alts = append(alts, items[0])
		default:
			alts = append(alts, &cmdArg{name: items[0].name, typ: "block", keySpec: -1, sub: items})
		}
		if p.i >= len(p.toks) {
			break
		}
		t := p.toks[p.i]
		p.i++
		if t != "|" {
			break
		}
	}
	var a *cmdArg
	if len(alts) == 1 {
		a = alts[0]
	} else {
		names := make([]string, len(alts))
		for i, x := range alts {
			names[i] = x.name
		}
		a = &cmdArg{name: strings.Join(names, "-"), typ: "oneof", keySpec: -1, sub: alts}
	}
	if optional {
		a.optional = true
	}
	if p.i < len(p.toks) && p.toks[p.i] == "..." {
		p.i++
		a.multiple = true
		if a.token != "" {
			a.multipleToken = true
		}
	}
	return a
}

// argSyntax documents the arguments of Redis 7.0's commands in the groups
// ferry serves, in parseArgs notation (the words after the command name).
var argSyntax = map[string]string{
	// strings
	"append": "key value", "decr": "key", "decrby": "key decrement:i", "get": "key", "getdel": "key",
	"getex":    "key [EX seconds:i|PX milliseconds:i|EXAT unix-time-seconds:t|PXAT unix-time-milliseconds:t|PERSIST]",
	"getrange": "key start:i end:i", "getset": "key value", "incr": "key", "incrby": "key increment:i",
	"incrbyfloat": "key increment:d", "lcs": "key1:k key2:k [LEN] [IDX] [MINMATCHLEN len:i] [WITHMATCHLEN]",
	"mget": "key...", "mset": "(key value)...", "msetnx": "(key value)...", "psetex": "key milliseconds:i value",
	"set":   "key value [NX|XX] [GET] [EX seconds:i|PX milliseconds:i|EXAT unix-time-seconds:t|PXAT unix-time-milliseconds:t|KEEPTTL]",
	"setex": "key seconds:i value", "setnx": "key value", "setrange": "key offset:i value", "strlen": "key",
	"substr": "key start:i end:i",
	// scripting
	"eval": "script numkeys:i [key...] [arg...]", "evalsha": "sha1 numkeys:i [key...] [arg...]",
	"eval_ro": "script numkeys:i [key...] [arg...]", "evalsha_ro": "sha1 numkeys:i [key...] [arg...]",
	"script": "", "script|exists": "sha1...", "script|flush": "[ASYNC|SYNC]", "script|help": "",
	"script|kill": "", "script|load": "script", "script|debug": "(YES|SYNC|NO)",
	// keys
	"copy": "source:k destination:k [DB destination-db:i] [REPLACE]", "del": "key...", "dump": "key",
	"exists": "key...", "expire": "key seconds:i [NX|XX|GT|LT]", "expireat": "key unix-time-seconds:t [NX|XX|GT|LT]",
	"memory": "", "memory|help": "", "memory|purge": "", "memory|usage": "key [SAMPLES count:i]",
	"expiretime": "key", "keys": "pattern:p", "move": "key db:i", "object": "", "object|encoding": "key",
	"object|freq": "key", "object|help": "", "object|idletime": "key", "object|refcount": "key",
	"persist": "key", "pexpire": "key milliseconds:i [NX|XX|GT|LT]",
	"pexpireat": "key unix-time-milliseconds:t [NX|XX|GT|LT]", "pexpiretime": "key", "pttl": "key",
	"randomkey": "", "rename": "key newkey:k", "renamenx": "key newkey:k",
	"restore": "key ttl:i serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds:i] [FREQ frequency:i]",
	"scan":    "cursor:i [MATCH pattern:p] [COUNT count:i] [TYPE type]",
	"sort":    "key [BY pattern:p] [LIMIT offset:i count:i] [GET pattern:p]... [ASC|DESC] [ALPHA] [STORE destination:k]",
	"sort_ro": "key [BY pattern:p] [LIMIT offset:i count:i] [GET pattern:p]... [ASC|DESC] [ALPHA]",
	"touch":   "key...", "ttl": "key", "type": "key", "unlink": "key...", "wait": "numreplicas:i timeout:i",
	"dbsize": "", "flushall": "[ASYNC|SYNC]", "flushdb": "[ASYNC|SYNC]", "swapdb": "index1:i index2:i",
	// hashes
	"hdel": "key field...", "hexists": "key field", "hget": "key field", "hgetall": "key",
	"hincrby": "key field increment:i", "hincrbyfloat": "key field increment:d", "hkeys": "key", "hlen": "key",
	"hmget": "key field...", "hmset": "key (field value)...", "hrandfield": "key [count:i [WITHVALUES]]",
	"hscan": "key cursor:i [MATCH pattern:p] [COUNT count:i]", "hset": "key (field value)...",
	"hsetnx": "key field value", "hstrlen": "key field", "hvals": "key",
	// lists
	"blmove": "source:k destination:k (LEFT|RIGHT) (LEFT|RIGHT) timeout:d",
	"blmpop": "timeout:d numkeys:i key... (LEFT|RIGHT) [COUNT count:i]",
	"blpop":  "key... timeout:d", "brpop": "key... timeout:d", "brpoplpush": "source:k destination:k timeout:d",
	"lindex": "key index:i", "linsert": "key (BEFORE|AFTER) pivot element", "llen": "key",
	"lmove": "source:k destination:k (LEFT|RIGHT) (LEFT|RIGHT)",
	"lmpop": "numkeys:i key... (LEFT|RIGHT) [COUNT count:i]", "lpop": "key [count:i]",
	"lpos":  "key element [RANK rank:i] [COUNT num-matches:i] [MAXLEN len:i]",
	"lpush": "key element...", "lpushx": "key element...", "lrange": "key start:i stop:i",
	"lrem": "key count:i element", "lset": "key index:i element", "ltrim": "key start:i stop:i",
	"rpop": "key [count:i]", "rpoplpush": "source:k destination:k", "rpush": "key element...",
	"rpushx": "key element...",
	// sets
	"sadd": "key member...", "scard": "key", "sdiff": "key...", "sdiffstore": "destination:k key...",
	"sinter": "key...", "sintercard": "numkeys:i key... [LIMIT limit:i]", "sinterstore": "destination:k key...",
	"sismember": "key member", "smembers": "key", "smismember": "key member...",
	"smove": "source:k destination:k member", "spop": "key [count:i]", "srandmember": "key [count:i]",
	"srem": "key member...", "sscan": "key cursor:i [MATCH pattern:p] [COUNT count:i]", "sunion": "key...",
	"sunionstore": "destination:k key...",
	// sorted sets
	"bzmpop":   "timeout:d numkeys:i key... (MIN|MAX) [COUNT count:i]",
	"bzpopmax": "key... timeout:d", "bzpopmin": "key... timeout:d",
	"zadd": "key [NX|XX] [GT|LT] [CH] [INCR] (score:d member)...", "zcard": "key",
	"zcount": "key min:d max:d", "zdiff": "numkeys:i key... [WITHSCORES]",
	"zdiffstore": "destination:k numkeys:i key...", "zincrby": "key increment:d member",
	"zinter":      "numkeys:i key... [WEIGHTS weight:d...] [AGGREGATE (SUM|MIN|MAX)] [WITHSCORES]",
	"zintercard":  "numkeys:i key... [LIMIT limit:i]",
	"zinterstore": "destination:k numkeys:i key... [WEIGHTS weight:d...] [AGGREGATE (SUM|MIN|MAX)]",
	"zlexcount":   "key min max", "zmpop": "numkeys:i key... (MIN|MAX) [COUNT count:i]", "zmscore": "key member...",
	"zpopmax": "key [count:i]", "zpopmin": "key [count:i]", "zrandmember": "key [count:i [WITHSCORES]]",
	"zrange":        "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset:i count:i] [WITHSCORES]",
	"zrangebylex":   "key min max [LIMIT offset:i count:i]",
	"zrangebyscore": "key min:d max:d [WITHSCORES] [LIMIT offset:i count:i]",
	"zrangestore":   "dst:k src:k min max [BYSCORE|BYLEX] [REV] [LIMIT offset:i count:i]",
	"zrank":         "key member", "zrem": "key member...", "zremrangebylex": "key min max",
	"zremrangebyrank": "key start:i stop:i", "zremrangebyscore": "key min:d max:d",
	"zrevrange": "key start:i stop:i [WITHSCORES]", "zrevrangebylex": "key max min [LIMIT offset:i count:i]",
	"zrevrangebyscore": "key max:d min:d [WITHSCORES] [LIMIT offset:i count:i]", "zrevrank": "key member",
	"zscan": "key cursor:i [MATCH pattern:p] [COUNT count:i]", "zscore": "key member",
	"zunion":      "numkeys:i key... [WEIGHTS weight:d...] [AGGREGATE (SUM|MIN|MAX)] [WITHSCORES]",
	"zunionstore": "destination:k numkeys:i key... [WEIGHTS weight:d...] [AGGREGATE (SUM|MIN|MAX)]",
	// pub/sub
	"psubscribe": "pattern:p...", "publish": "channel message", "pubsub": "", "pubsub|channels": "[pattern:p]",
	"pubsub|help": "", "pubsub|numpat": "", "pubsub|numsub": "[channel...]", "pubsub|shardchannels": "[pattern:p]",
	"pubsub|shardnumsub": "[shardchannel...]", "punsubscribe": "[pattern:p...]", "spublish": "shardchannel message",
	"ssubscribe": "shardchannel...", "subscribe": "channel...", "sunsubscribe": "[shardchannel...]",
	"unsubscribe": "[channel...]",
	// transactions
	"discard": "", "exec": "", "multi": "", "unwatch": "", "watch": "key...",
	// connection
	"auth": "[username] password", "echo": "message", "hello": "[protover:i [AUTH username password] [SETNAME clientname]]",
	"ping": "[message]", "quit": "", "reset": "", "select": "index:i", "client": "",
	"client|getname": "", "client|getredir": "", "client|help": "", "client|id": "", "client|info": "",
	"client|kill":    "(ip:port | ([ID client-id:i] | [TYPE (NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME yes/no])...)",
	"client|list":    "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id:i...]",
	"client|setname": "connection-name", "client|trackinginfo": "",
	"client|tracking": "(ON|OFF) [REDIRECT client-id:i] [PREFIX prefix]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]",
	"client|caching":  "(YES|NO)",
	"client|unblock":  "client-id:i [TIMEOUT|ERROR]",
	// server
	"bgsave": "[SCHEDULE]", "command": "", "command|count": "", "command|docs": "[command-name...]",
	"command|getkeys": "", "command|getkeysandflags": "", "command|help": "",
	"command|info": "[command-name...]",
	"command|list": "[FILTERBY (MODULE module-name|ACLCAT category|PATTERN pattern:p)]",
	"config":       "", "config|get": "parameter...", "config|help": "", "config|resetstat": "", "config|rewrite": "",
	"config|set": "(parameter value)...", "debug": "", "info": "[section...]",
	"lastsave": "", "role": "", "save": "", "shutdown": "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", "time": "",
	"monitor": "",
}
