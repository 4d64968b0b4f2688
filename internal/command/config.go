package command

import (
	"math"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// CONFIG GET, SET, RESETSTAT, REWRITE and HELP (config.c) over the settings
// ferry has. Values are parsed and errors worded as Redis 7.0 does; a value
// Redis would take but ferry cannot honour (AOF, snapshots, eviction, idle
// timeouts) is refused with a CONFIG SET failure that says why.

func registerConfig(t *Table) {
	adm := Admin | NoScript | Loading | Stale
	acl := []string{"admin", "slow", "dangerous"}
	t.Add(
		&Command{Name: "config", Arity: -2, Group: "server", Since: "2.0.0", Summary: "Container of the commands that read and change ferry's settings.", ACL: []string{"slow"}},
		&Command{Name: "config|get", Arity: -3, Flags: adm, Group: "server", Since: "2.0.0", Summary: "Replies with the settings whose names match the given glob patterns, and their values.", ACL: acl, Handler: configGetCmd},
		&Command{Name: "config|set", Arity: -4, Flags: adm, Group: "server", Since: "2.0.0", Summary: "Changes settings at run time: all of them, or none when one value is refused.", ACL: acl, Handler: configSetCmd},
		&Command{Name: "config|resetstat", Arity: 2, Flags: adm, Group: "server", Since: "2.0.0", Summary: "Sets the counters INFO reports back to zero.", ACL: acl, Handler: configResetstatCmd},
		&Command{Name: "config|rewrite", Arity: 2, Flags: adm, Group: "server", Since: "2.8.0", Summary: "Writes the settings back to the configuration file (ferry has none).", ACL: acl, Handler: configRewriteCmd},
		&Command{Name: "config|help", Arity: 2, Flags: Loading | Stale, Group: "server", Since: "5.0.0", Summary: "Lists the CONFIG subcommands.", ACL: []string{"slow"}, Handler: configHelpCmd},
	)
}

// configParam is one setting.
type configParam struct {
	name, alias string
	get         func(e *Engine) string
	// parse validates a value as Redis does, returning what set applies or
	// the error text. A nil parse makes the setting immutable.
	parse func(v string) (any, string)
	// refuse, when not nil, rejects values Redis would take but ferry
	// cannot honour.
	refuse func(v any) string
	set    func(e *Engine, v any)
}

var configParams []*configParam

// configByName maps names and aliases (lowercase) to their setting.
var configByName = map[string]*configParam{}

func init() {
	lim := func(e *Engine) *keyspace.Limits { return &e.ks.Limits }
	itoa := func(n int) string { return strconv.Itoa(n) }
	configParams = []*configParam{
		{name: "requirepass", get: func(e *Engine) string { return e.cfg.RequirePass },
			parse: func(v string) (any, string) { return strings.Clone(v), "" },
			set: func(e *Engine, v any) {
				// As Redis: the default user's passwords become this one
				// (nopass when empty); ACL SETUSER default does not change
				// what CONFIG GET shows. The value it already has changes
				// nothing (Redis's sdsConfigSet skips the update), even
				// when ACL SETUSER default changed the passwords since.
				if v.(string) == e.cfg.RequirePass {
					return
				}
				e.cfg.RequirePass = v.(string)
				e.acl.users.SetDefaultPassword(e.cfg.RequirePass)
				e.aclChanged()
			}},
		{name: "aclfile", get: func(e *Engine) string { return e.acl.file }},
		{name: "acl-pubsub-default", get: func(e *Engine) string {
			if e.acl.users.PubsubAll {
				return "allchannels"
			}
			return "resetchannels"
		},
			parse: func(v string) (any, string) {
				switch {
				case strings.EqualFold(v, "allchannels"):
					return true, ""
				case strings.EqualFold(v, "resetchannels"):
					return false, ""
				}
				return nil, "argument(s) must be one of the following: allchannels, resetchannels"
			},
			set: func(e *Engine, v any) { e.acl.users.PubsubAll = v.(bool) }},
		{name: "acllog-max-len", get: func(e *Engine) string { return strconv.Itoa(e.acl.log.MaxLen) },
			parse: parseInt(0, math.MaxInt64),
			set:   func(e *Engine, v any) { e.acl.log.MaxLen = int(min(v.(int64), math.MaxInt32)) }},
		{name: "proto-max-bulk-len", get: func(e *Engine) string { return strconv.FormatInt(e.cfg.MaxBulkLen, 10) },
			parse: parseMemory(1<<20, math.MaxInt64),
			set:   func(e *Engine, v any) { e.cfg.MaxBulkLen = v.(int64) }},
		{name: "databases", get: func(*Engine) string { return itoa(keyspace.NumDBs) }},
		{name: "maxclients", get: func(e *Engine) string { return itoa(e.MaxClients()) }},
		{name: "port", get: func(e *Engine) string { return itoa(e.port()) }},
		{name: "bind", get: func(e *Engine) string { return e.bind() }},
		{name: "save", get: func(*Engine) string { return "" }, parse: parseSave,
			refuse: func(v any) string {
				if v.(string) != "" {
					return "ferry schedules snapshots with --snapshot-interval and --snapshot-after-writes"
				}
				return ""
			},
			set: func(*Engine, any) {}},
		{name: "appendonly", get: func(*Engine) string { return "no" }, parse: parseBool,
			refuse: func(v any) string {
				if v.(bool) {
					return "ferry has no append-only file: its writes go to the replication stream"
				}
				return ""
			},
			set: func(*Engine, any) {}},
		{name: "maxmemory", get: func(e *Engine) string { return strconv.FormatUint(e.srv().settings.maxmemory, 10) },
			parse: func(v string) (any, string) {
				n, ok := memtoull(v)
				if !ok {
					return nil, "argument must be a memory value"
				}
				return n, ""
			},
			refuse: func(v any) string {
				if v.(uint64) != 0 {
					return "ferry does not evict keys: maxmemory must be 0"
				}
				return ""
			},
			set: func(e *Engine, v any) { e.srv().settings.maxmemory = v.(uint64) }},
		{name: "maxmemory-policy", get: func(e *Engine) string { return e.srv().settings.maxmemoryPolicy },
			parse: func(v string) (any, string) {
				for _, p := range maxmemoryPolicies {
					if strings.EqualFold(v, p) {
						return p, ""
					}
				}
				return nil, "argument(s) must be one of the following: " + strings.Join(maxmemoryPolicies, ", ")
			},
			set: func(e *Engine, v any) { e.srv().settings.maxmemoryPolicy = v.(string) }},
		{name: "timeout", get: func(e *Engine) string { return strconv.FormatInt(e.srv().settings.timeout, 10) },
			parse: parseInt(0, math.MaxInt32),
			refuse: func(v any) string {
				if v.(int64) != 0 {
					return "ferry does not close idle clients: timeout must be 0"
				}
				return ""
			},
			set: func(e *Engine, v any) { e.srv().settings.timeout = v.(int64) }},
		{name: "busy-reply-threshold", alias: "lua-time-limit",
			get:   func(e *Engine) string { return strconv.FormatInt(e.busy.threshold.Load(), 10) },
			parse: parseInt(0, math.MaxInt64),
			set:   func(e *Engine, v any) { e.busy.threshold.Store(v.(int64)) }},
		{name: "tracking-table-max-keys", get: func(e *Engine) string { return strconv.FormatInt(e.trk.maxKeys, 10) },
			parse: parseInt(0, math.MaxInt64),
			set:   func(e *Engine, v any) { e.trk.maxKeys = v.(int64) }},
		{name: "hz", get: func(e *Engine) string { return strconv.FormatInt(e.srv().settings.hz, 10) },
			parse: parseInt(0, math.MaxInt32),
			// Like Redis, values out of 1..500 are clamped.
			set: func(e *Engine, v any) { e.srv().settings.hz = min(max(v.(int64), 1), 500) }},
		{name: "hash-max-listpack-entries", alias: "hash-max-ziplist-entries",
			get: func(e *Engine) string { return itoa(lim(e).HashMaxListpackEntries) }, parse: parseSize(false),
			set: func(e *Engine, v any) { lim(e).HashMaxListpackEntries = v.(int) }},
		{name: "hash-max-listpack-value", alias: "hash-max-ziplist-value",
			get: func(e *Engine) string { return itoa(lim(e).HashMaxListpackValue) }, parse: parseSize(true),
			set: func(e *Engine, v any) { lim(e).HashMaxListpackValue = v.(int) }},
		{name: "set-max-intset-entries",
			get: func(e *Engine) string { return itoa(lim(e).SetMaxIntsetEntries) }, parse: parseSize(false),
			set: func(e *Engine, v any) { lim(e).SetMaxIntsetEntries = v.(int) }},
		{name: "zset-max-listpack-entries", alias: "zset-max-ziplist-entries",
			get: func(e *Engine) string { return itoa(lim(e).ZSetMaxListpackEntries) }, parse: parseSize(false),
			set: func(e *Engine, v any) { lim(e).ZSetMaxListpackEntries = v.(int) }},
		{name: "zset-max-listpack-value", alias: "zset-max-ziplist-value",
			get: func(e *Engine) string { return itoa(lim(e).ZSetMaxListpackValue) }, parse: parseSize(true),
			set: func(e *Engine, v any) { lim(e).ZSetMaxListpackValue = v.(int) }},
		{name: "list-max-listpack-size", alias: "list-max-ziplist-size",
			get: func(e *Engine) string { return itoa(lim(e).ListMaxListpackSize) }, parse: parseInt(math.MinInt32, math.MaxInt32),
			set: func(e *Engine, v any) { lim(e).ListMaxListpackSize = int(v.(int64)) }},
		{name: "sanitize-dump-payload", get: (*Engine).sanitizeDumpSetting, parse: parseSanitizeDump,
			set: func(e *Engine, v any) { e.srv().settings.sanitizeDumpPayload = v.(string) }},
		{name: "replica-serve-stale-data", alias: "slave-serve-stale-data",
			get: func(e *Engine) string { return yesNo(e.srv().settings.serveStale) }, parse: parseBool,
			set: func(e *Engine, v any) { e.srv().settings.serveStale = v.(bool) }},
		{name: "client-output-buffer-limit", get: (*Engine).obufLimitsString,
			parse: parseObufLimits, set: (*Engine).setObufLimits},
		{name: "replica-read-only", alias: "slave-read-only",
			get: func(e *Engine) string { return yesNo(e.srv().settings.replicaReadOnly) }, parse: parseBool,
			set: func(e *Engine, v any) { e.srv().settings.replicaReadOnly = v.(bool) }},
	}
	for _, p := range configParams {
		configByName[p.name] = p
		if p.alias != "" {
			configByName[p.alias] = p
		}
	}
}

var maxmemoryPolicies = []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// parseBool parses yes or no, in any case.
func parseBool(v string) (any, string) {
	switch {
	case strings.EqualFold(v, "yes"):
		return true, ""
	case strings.EqualFold(v, "no"):
		return false, ""
	}
	return nil, "argument must be 'yes' or 'no'"
}

// parseInt returns a parser of plain integers in [lo, hi] (an int64).
func parseInt(lo, hi int64) func(string) (any, string) {
	return func(v string) (any, string) {
		n, ok := num.ParseInt([]byte(v))
		if !ok {
			return nil, "argument couldn't be parsed into an integer"
		}
		if n < lo || n > hi {
			return nil, "argument must be between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10) + " inclusive"
		}
		return n, ""
	}
}

// parseSize returns a parser of encoding thresholds (size_t in Redis,
// 0..LONG_MAX; an int), read as memory values ("64", "1kb") when memory is
// set.
func parseSize(memory bool) func(string) (any, string) {
	return func(v string) (any, string) {
		var u uint64
		if memory {
			var ok bool
			if u, ok = memtoull(v); !ok {
				return nil, "argument must be a memory value"
			}
		} else {
			n, ok := num.ParseInt([]byte(v))
			if !ok {
				return nil, "argument couldn't be parsed into an integer"
			}
			u = uint64(n)
		}
		if u > math.MaxInt64 {
			return nil, "argument must be between 0 and 9223372036854775807 inclusive"
		}
		return int(min(u, math.MaxInt)), ""
	}
}

// parseMemory returns a parser of memory values stored signed (an int64)
// in [lo, hi].
func parseMemory(lo, hi int64) func(string) (any, string) {
	return func(v string) (any, string) {
		u, ok := memtoull(v)
		if !ok {
			return nil, "argument must be a memory value"
		}
		n := int64(u) // as Redis stores it in a long long
		if n < lo || n > hi {
			return nil, "argument must be between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10) + " inclusive"
		}
		return n, ""
	}
}

// memtoull parses a memory value the way Redis's memtoull does: digits and
// an optional unit (b, k, kb, m, mb, g, gb, any case); no sign, no spaces.
// Like strtoull, too many digits saturate.
func memtoull(s string) (uint64, bool) {
	if strings.HasPrefix(s, "-") {
		return 0, false
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	var mul uint64
	switch strings.ToLower(s[i:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1024
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1024 * 1024
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1024 * 1024 * 1024
	default:
		return 0, false
	}
	if i >= 128 {
		return 0, false
	}
	var v uint64
	if i > 0 {
		var err error
		v, err = strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			v = math.MaxUint64
		}
	}
	return v * mul, true
}

// parseSave validates a save schedule: "" or pairs of seconds (>= 1) and
// changes (>= 0), separated by spaces.
func parseSave(v string) (any, string) {
	if v == "" {
		return v, ""
	}
	args := strings.Split(v, " ")
	if len(args)%2 != 0 {
		return nil, "Invalid save parameters"
	}
	for j, a := range args {
		n, rest := strtoll(a)
		if rest != "" || (j%2 == 0 && n < 1) || (j%2 == 1 && n < 0) {
			return nil, "Invalid save parameters"
		}
	}
	return v, ""
}

// strtoll parses a leading integer like C's strtoll (base 10) and returns
// what follows it.
func strtoll(s string) (int64, string) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	j := i
	for j < len(t) && t[j] >= '0' && t[j] <= '9' {
		j++
	}
	if j == i {
		return 0, s
	}
	n, err := strconv.ParseInt(t[:j], 10, 64)
	if err != nil {
		if t[0] == '-' {
			n = math.MinInt64
		} else {
			n = math.MaxInt64
		}
	}
	return n, t[j:]
}

// port returns the listening port: from the configured address, else from
// a connected client's local address.
func (e *Engine) port() int {
	if p := listenPort(e.cfg.Addr); p != 0 {
		return p
	}
	for _, cl := range e.clients {
		if p := listenPort(cl.LAddr); p != 0 {
			return p
		}
	}
	return 0
}

// bind returns the listening host as CONFIG GET bind shows it.
func (e *Engine) bind() string {
	host := e.cfg.Addr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.Trim(host, "[]")
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "* -::*"
	}
	return host
}

func configGetCmd(c *Ctx) {
	type match struct {
		name string
		p    *configParam
	}
	var out []match
	seen := map[string]bool{}
	for _, a := range c.Args[2:] {
		pat := view(a)
		if !strings.ContainsAny(pat, "[*?") {
			p := configByName[strings.ToLower(pat)]
			if p == nil || seen[pat] {
				continue
			}
			seen[pat] = true
			out = append(out, match{string(a), p})
			continue
		}
		for _, p := range configParams {
			for _, name := range []string{p.name, p.alias} {
				if name != "" && !seen[name] && glob.MatchFold(pat, name) {
					seen[name] = true
					out = append(out, match{name, p})
				}
			}
		}
	}
	c.W.Map(len(out))
	for _, m := range out {
		c.W.BulkString(m.name)
		c.W.BulkString(m.p.get(c.e))
	}
}

func configSetCmd(c *Ctx) {
	if len(c.Args)%2 != 0 {
		c.Error(ErrSyntax)
		return
	}
	// An alias is a setting of its own for Redis: naming a setting and its
	// alias is no duplicate (the last one wins), and errors name the alias.
	type named struct {
		p    *configParam
		name string
	}
	n := (len(c.Args) - 2) / 2
	params := make([]named, 0, n)
	unknown, errArg, errStr := "", "", ""
	for i := 0; i < n; i++ {
		arg := c.Arg(2 + 2*i)
		lower := strings.ToLower(arg)
		p := configByName[lower]
		switch {
		case p == nil:
			unknown = arg
		case p.parse == nil:
			errArg, errStr = arg, "can't set immutable config"
		default:
			for _, q := range params {
				if q.name == lower {
					errArg, errStr = arg, "duplicate parameter"
				}
			}
		}
		if unknown != "" || errStr != "" {
			break
		}
		params = append(params, named{p, lower})
	}
	if unknown != "" {
		c.Error("ERR Unknown option or number of arguments for CONFIG SET - '" + unknown + "'")
		return
	}
	if errStr != "" {
		c.Error("ERR CONFIG SET failed (possibly related to argument '" + errArg + "') - " + errStr)
		return
	}
	vals := make([]any, len(params))
	for i, q := range params {
		v, msg := q.p.parse(c.Arg(3 + 2*i))
		if msg == "" && q.p.refuse != nil {
			msg = q.p.refuse(v)
		}
		if msg != "" {
			c.Error("ERR CONFIG SET failed (possibly related to argument '" + q.name + "') - " + msg)
			return
		}
		vals[i] = v
	}
	for i, q := range params {
		q.p.set(c.e, vals[i])
	}
	c.W.OK()
}

func configResetstatCmd(c *Ctx) {
	s := &c.e.stats
	s.Commands.Store(0)
	s.Connections.Store(0)
	s.Rejected.Store(0)
	s.NetInput.Store(0)
	s.NetOutput.Store(0)
	s.ExpiredKeys = 0
	s.KeyspaceHits = 0
	s.KeyspaceMisses = 0
	s.ErrorReplies = 0
	s.UnexpectedError = 0
	s.TotalBlocking = 0
	c.e.srv().inst = instMetrics{}
	c.e.srv().sanitizations = 0
	c.e.resetObserveStats()
	c.W.OK()
}

func configRewriteCmd(c *Ctx) { c.Error("ERR The server is running without a config file") }

func configHelpCmd(c *Ctx) {
	helpReply(c, "CONFIG",
		"GET <pattern> [<pattern> ...]",
		"    Reply with the settings whose names match a glob pattern, and their values.",
		"SET <name> <value> [<name> <value> ...]",
		"    Change settings; if one value is refused, none changes.",
		"RESETSTAT",
		"    Set the INFO counters back to zero.",
		"REWRITE",
		"    Save the settings to the configuration file (ferry runs without one).",
	)
}
