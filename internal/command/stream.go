package command

import (
	"bytes"
	"strconv"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Stream commands (t_stream.c) over keyspace.Stream, laid out as Redis
// lays streams out. Effects: XADD always carries the resolved ID, and an
// approximate trim (~, LIMIT) is rewritten as the exact one that removes
// what was removed (MAXLEN = <length left> or MINID = <first ID left>), as
// Redis 7.0 rewrites them; XTRIM likewise; XDEL, XSETID as received.
// Consumer group commands are in stream_group.go.

// Stream node limits (stream-node-max-bytes, stream-node-max-entries):
// Redis 7.0's defaults; ferry does not make them configurable.
const (
	streamNodeMaxBytes   = keyspace.StreamNodeMaxBytes
	streamNodeMaxEntries = keyspace.StreamNodeMaxEntries
)

func init() {
	registrations = append(registrations, registerStream)
	for name, spec := range map[string]string{
		"xadd": "RW update @1", "xlen": "RO @1", "xrange": "RO access @1", "xrevrange": "RO access @1",
		"xdel": "RW delete @1", "xtrim": "RW delete @1", "xsetid": "RW update @1",
		"xread": "RO access kw:STREAMS,1..-1/1%2", "xreadgroup": "RO access kw:STREAMS,4..-1/1%2",
		"xack": "RW update @1", "xpending": "RO access @1", "xclaim": "RW update @1", "xautoclaim": "RW delete @1",
		"xgroup|create": "RW insert @2", "xgroup|setid": "RW update @2", "xgroup|destroy": "RW delete @2",
		"xgroup|createconsumer": "RW insert @2", "xgroup|delconsumer": "RW delete @2",
		"xinfo|stream": "RO access @2", "xinfo|groups": "RO access @2", "xinfo|consumers": "RO access @2",
	} {
		keySpecTable[name] = spec
	}
	specNotes["xadd"] = "UPDATE instead of INSERT because of the optional trimming feature"
	for name, tips := range map[string]string{
		"xadd": "nondeterministic_output", "xtrim": "nondeterministic_output", "xpending": "nondeterministic_output",
		"xclaim": "nondeterministic_output", "xautoclaim": "nondeterministic_output", "xinfo|consumers": "nondeterministic_output",
	} {
		tipTable[name] = tips
	}
	for name, args := range map[string]string{
		"xadd":                  "key [NOMKSTREAM] [(MAXLEN|MINID) [=|~] threshold [LIMIT count:i]] (*|id) (field value)...",
		"xlen":                  "key",
		"xrange":                "key start end [COUNT count:i]",
		"xrevrange":             "key end start [COUNT count:i]",
		"xdel":                  "key id...",
		"xtrim":                 "key (MAXLEN|MINID) [=|~] threshold [LIMIT count:i]",
		"xsetid":                "key last-id [ENTRIESADDED entries_added:i] [MAXDELETEDID max_deleted_entry_id]",
		"xgroup|create":         "key groupname (id|$) [MKSTREAM] [ENTRIESREAD entries_read:i]",
		"xgroup|setid":          "key groupname (id|$) [ENTRIESREAD entries_read:i]",
		"xgroup|createconsumer": "key groupname consumername",
		"xgroup|delconsumer":    "key groupname consumername",
		"xgroup|destroy":        "key groupname",
		"xinfo|consumers":       "key groupname",
		"xinfo|groups":          "key",
		"xinfo|stream":          "key [FULL [COUNT count:i]]",
		"xgroup|help":           "",
		"xinfo|help":            "",
		"xread":                 "[COUNT count:i] [BLOCK milliseconds:i] STREAMS key... id...",
		"xreadgroup":            "GROUP group consumer [COUNT count:i] [BLOCK milliseconds:i] [NOACK] STREAMS key... id...",
		"xack":                  "key group id...",
		"xpending":              "key group [[IDLE min-idle-time:i] start end count:i [consumer]]",
		"xclaim":                "key group consumer min-idle-time id... [IDLE ms:i] [TIME unix-time-milliseconds:t] [RETRYCOUNT count:i] [FORCE] [JUSTID] [LASTID id]",
		"xautoclaim":            "key group consumer min-idle-time start [COUNT count:i] [JUSTID]",
	} {
		argSyntax[name] = args
	}
	// XINFO STREAM's FULL is a block of one optional argument, which the
	// notation cannot say: build it here.
	m := metaFor(&Command{Name: "xinfo|stream"})
	m.args[1] = &cmdArg{name: "full", typ: "block", token: "FULL", optional: true, keySpec: -1,
		sub: []*cmdArg{{name: "count", typ: "integer", token: "COUNT", optional: true, keySpec: -1}}}
}

func registerStream(t *Table) {
	x := func(c *Command) *Command {
		c.Group = "stream"
		if c.Since == "" {
			c.Since = "5.0.0"
		}
		if c.FirstKey == 0 && c.Name != "xread" && c.Name != "xreadgroup" && c.Handler != nil && !isStreamHelp(c.Name) {
			c.FirstKey, c.LastKey, c.Step = 1, 1, 1
		}
		return c
	}
	sub := func(c *Command) *Command {
		c = x(c)
		if !isStreamHelp(c.Name) {
			c.FirstKey, c.LastKey, c.Step = 2, 2, 1
		}
		return c
	}
	t.Add(
		x(&Command{Name: "xadd", Arity: -5, Flags: Write | DenyOOM | Fast, Summary: "Appends a new entry to a stream.", ACL: []string{"write", "stream", "fast"}, Handler: xaddCmd}),
		x(&Command{Name: "xlen", Arity: 2, Flags: ReadOnly | Fast, Summary: "Return the number of entries in a stream.", ACL: []string{"read", "stream", "fast"}, Handler: xlenCmd}),
		x(&Command{Name: "xrange", Arity: -4, Flags: ReadOnly, Summary: "Returns the entries of a stream within a range of IDs.", ACL: []string{"read", "stream", "slow"}, Handler: func(c *Ctx) { xrangeGeneric(c, false) }}),
		x(&Command{Name: "xrevrange", Arity: -4, Flags: ReadOnly, Summary: "Returns the entries of a stream within a range of IDs, in reverse order.", ACL: []string{"read", "stream", "slow"}, Handler: func(c *Ctx) { xrangeGeneric(c, true) }}),
		x(&Command{Name: "xdel", Arity: -3, Flags: Write | Fast, Summary: "Removes entries from a stream.", ACL: []string{"write", "stream", "fast"}, Handler: xdelCmd}),
		x(&Command{Name: "xtrim", Arity: -4, Flags: Write, Summary: "Removes the oldest entries of a stream.", ACL: []string{"write", "stream", "slow"}, Handler: xtrimCmd}),
		x(&Command{Name: "xsetid", Arity: -3, Flags: Write | DenyOOM | Fast, Summary: "Sets a stream's last generated ID and counters.", ACL: []string{"write", "stream", "fast"}, Handler: xsetidCmd}),
		x(&Command{Name: "xread", Arity: -4, Flags: ReadOnly | Blocking, Summary: "Returns the entries of streams past the given IDs, waiting for some when asked.", ACL: []string{"read", "stream", "slow", "blocking"}, Handler: func(c *Ctx) { xreadGeneric(c, false) }}),
		x(&Command{Name: "xreadgroup", Arity: -7, Flags: Write | Blocking, Summary: "Delivers the entries of streams to a consumer of a group, waiting for some when asked.", ACL: []string{"write", "stream", "slow", "blocking"}, Handler: func(c *Ctx) { xreadGeneric(c, true) }}),
		x(&Command{Name: "xack", Arity: -4, Flags: Write | Fast, Summary: "Acknowledges pending entries of a consumer group.", ACL: []string{"write", "stream", "fast"}, Handler: xackCmd}),
		x(&Command{Name: "xpending", Arity: -3, Flags: ReadOnly, Summary: "Returns information about a consumer group's pending entries.", ACL: []string{"read", "stream", "slow"}, Handler: xpendingCmd}),
		x(&Command{Name: "xclaim", Arity: -6, Flags: Write | Fast, Summary: "Gives pending entries to another consumer.", ACL: []string{"write", "stream", "fast"}, Handler: xclaimCmd}),
		x(&Command{Name: "xautoclaim", Arity: -6, Flags: Write | Fast, Since: "6.2.0", Summary: "Gives idle pending entries to another consumer.", ACL: []string{"write", "stream", "fast"}, Handler: xautoclaimCmd}),
		x(&Command{Name: "xgroup", Arity: -2, Summary: "A container for consumer groups commands", ACL: []string{"slow"}}),
		sub(&Command{Name: "xgroup|create", Arity: -5, Flags: Write | DenyOOM, Summary: "Creates a consumer group.", ACL: []string{"write", "stream", "slow"}, Handler: xgroupCreateCmd}),
		sub(&Command{Name: "xgroup|setid", Arity: -5, Flags: Write, Summary: "Sets a consumer group's last delivered ID.", ACL: []string{"write", "stream", "slow"}, Handler: xgroupSetidCmd}),
		sub(&Command{Name: "xgroup|destroy", Arity: 4, Flags: Write, Summary: "Destroys a consumer group.", ACL: []string{"write", "stream", "slow"}, Handler: xgroupDestroyCmd}),
		sub(&Command{Name: "xgroup|createconsumer", Arity: 5, Flags: Write | DenyOOM, Since: "6.2.0", Summary: "Creates a consumer in a consumer group.", ACL: []string{"write", "stream", "slow"}, Handler: xgroupCreateConsumerCmd}),
		sub(&Command{Name: "xgroup|delconsumer", Arity: 5, Flags: Write, Summary: "Deletes a consumer from a consumer group.", ACL: []string{"write", "stream", "slow"}, Handler: xgroupDelConsumerCmd}),
		sub(&Command{Name: "xgroup|help", Arity: 2, Flags: Loading | Stale, Summary: "Returns helpful text about the XGROUP subcommands.", ACL: []string{"stream", "slow"}, Handler: xgroupHelpCmd}),
		x(&Command{Name: "xinfo", Arity: -2, Summary: "A container for stream introspection commands", ACL: []string{"slow"}}),
		sub(&Command{Name: "xinfo|stream", Arity: -3, Flags: ReadOnly, Summary: "Returns information about a stream.", ACL: []string{"read", "stream", "slow"}, Handler: xinfoStreamCmd}),
		sub(&Command{Name: "xinfo|groups", Arity: 3, Flags: ReadOnly, Summary: "Returns a list of the consumer groups of a stream.", ACL: []string{"read", "stream", "slow"}, Handler: xinfoGroupsCmd}),
		sub(&Command{Name: "xinfo|consumers", Arity: 4, Flags: ReadOnly, Summary: "Returns a list of the consumers in a consumer group.", ACL: []string{"read", "stream", "slow"}, Handler: xinfoConsumersCmd}),
		sub(&Command{Name: "xinfo|help", Arity: 2, Flags: Loading | Stale, Summary: "Returns helpful text about the XINFO subcommands.", ACL: []string{"stream", "slow"}, Handler: xinfoHelpCmd}),
	)
}

func isStreamHelp(name string) bool { return name == "xgroup|help" || name == "xinfo|help" }

// Error replies of the stream commands.
const (
	errStreamID        = "ERR Invalid stream ID specified as stream command argument"
	errStreamIDSmaller = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
	errStreamIDZero    = "ERR The ID specified in XADD must be greater than 0-0"
	errStreamExhausted = "ERR The stream has exhausted the last possible ID, unable to add more items"
	errStreamTooLarge  = "ERR Elements are too large to be stored"
	errStreamStartID   = "ERR invalid start ID for the interval"
	errStreamEndID     = "ERR invalid end ID for the interval"
)

// lookupStream returns key's stream: nil, true when missing; nil, false
// after replying WRONGTYPE.
func (c *Ctx) lookupStream(key string, write bool) (*keyspace.Stream, bool) {
	return lookupAs[*keyspace.Stream](c, key, keyspace.KindStream, write)
}

// strtoull parses a stream ID part as Redis's string2ull: a canonical
// integer (negative ones refused), else what strtoull(3) takes whole
// (leading spaces, a sign, leading zeros; a minus negates modulo 2^64).
func strtoull(b []byte) (uint64, bool) {
	if n, ok := num.ParseInt(b); ok {
		return uint64(n), n >= 0
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] >= '\t' && b[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		v = v*10 + d
	}
	if i == start || i != len(b) || overflow {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseStreamID parses an ID as streamGenericParseIDOrReply: "-" and "+"
// (unless strict), "ms" (seq missingSeq) or "ms-seq", and "ms-*" when
// seqStar (seqGiven false). It replies the error itself when reply.
func (c *Ctx) parseStreamID(b []byte, missingSeq uint64, strict, seqStar, reply bool) (id keyspace.StreamID, seqGiven, ok bool) {
	fail := func() (keyspace.StreamID, bool, bool) {
		if reply {
			c.Error(errStreamID)
		}
		return keyspace.StreamID{}, false, false
	}
	if len(b) > 127 {
		return fail()
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i] // the C string ends there
	}
	if len(b) == 1 && (b[0] == '-' || b[0] == '+') {
		if strict {
			return fail()
		}
		if b[0] == '-' {
			return keyspace.StreamID{}, true, true
		}
		return keyspace.MaxStreamID, true, true
	}
	msPart, seqPart, hasSeq := bytes.Cut(b, []byte("-"))
	ms, ok := strtoull(msPart)
	if !ok || len(msPart) == 0 {
		return fail()
	}
	seq := missingSeq
	seqGiven = true
	if hasSeq {
		if seqStar && len(seqPart) == 1 && seqPart[0] == '*' {
			seq, seqGiven = 0, false
		} else if seq, ok = strtoull(seqPart); !ok || len(seqPart) == 0 {
			return fail()
		}
	}
	return keyspace.StreamID{Ms: ms, Seq: seq}, seqGiven, true
}

// parseIntervalID parses a range bound: "(" makes it exclusive (then
// strict).
func (c *Ctx) parseIntervalID(b []byte, missingSeq uint64) (id keyspace.StreamID, exclusive, ok bool) {
	if len(b) > 1 && b[0] == '(' {
		id, _, ok = c.parseStreamID(b[1:], missingSeq, true, false, true)
		return id, true, ok
	}
	id, _, ok = c.parseStreamID(b, missingSeq, false, false, true)
	return id, false, ok
}

// writeStreamEntry writes one entry: [id, [field, value, ...]].
func (c *Ctx) writeStreamEntry(id keyspace.StreamID, fv [][]byte) {
	c.W.Array(2)
	c.W.Bulk(id.Append(nil))
	c.W.Array(len(fv))
	for _, b := range fv {
		c.W.Bulk(b)
	}
}

// writeStreamRange writes entries start..end (count 0: all) without the
// array header, returning how many.
func (c *Ctx) writeStreamRange(s *keyspace.Stream, start, end keyspace.StreamID, count int64, rev bool) int64 {
	var n int64
	s.Range(start, end, rev, func(id keyspace.StreamID, fv [][]byte) bool {
		c.writeStreamEntry(id, fv)
		n++
		return count == 0 || n < count
	})
	return n
}

// trimArgs are XADD's and XTRIM's trimming options.
type trimArgs struct {
	strategy int // 0, keyspace.TrimMaxLen or keyspace.TrimMinID
	argIdx   int // the threshold's argument index
	approx   bool
	limit    int64
	maxLen   int64
	minID    keyspace.StreamID
	// XADD only.
	id         keyspace.StreamID
	idGiven    bool
	seqGiven   bool
	noMkStream bool
}

// parseAddTrim parses XADD's (xadd) or XTRIM's options as
// streamParseAddOrTrimArgsOrReply, returning the ID's index for XADD.
func (c *Ctx) parseAddTrim(xadd bool) (ta trimArgs, idPos int, ok bool) {
	limitGiven := false
	i := 2
	for ; i < len(c.Args); i++ {
		more := len(c.Args) - 1 - i
		opt := c.Args[i]
		switch {
		case xadd && cString(view(opt)) == "*": // strcmp: "*\x00..." too
			return c.finishAddTrim(ta, i, xadd, limitGiven)
		case c.Is(i, "maxlen") && more > 0, c.Is(i, "minid") && more > 0:
			if ta.strategy != 0 {
				c.Error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
				return ta, 0, false
			}
			isMax := c.Is(i, "maxlen")
			ta.approx = false
			if next := cString(view(c.Args[i+1])); more >= 2 && (next == "~" || next == "=") {
				ta.approx = next == "~"
				i++
			}
			if isMax {
				n, ok := c.Int(i + 1)
				if !ok {
					return ta, 0, false
				}
				if n < 0 {
					c.Error("ERR The MAXLEN argument must be >= 0.")
					return ta, 0, false
				}
				ta.maxLen, ta.strategy = n, keyspace.TrimMaxLen
			} else {
				id, _, ok := c.parseStreamID(c.Args[i+1], 0, true, false, true)
				if !ok {
					return ta, 0, false
				}
				ta.minID, ta.strategy = id, keyspace.TrimMinID
			}
			i++
			ta.argIdx = i
		case c.Is(i, "limit") && more > 0:
			n, ok := c.Int(i + 1)
			if !ok {
				return ta, 0, false
			}
			if n < 0 {
				c.Error("ERR The LIMIT argument must be >= 0.")
				return ta, 0, false
			}
			ta.limit, limitGiven = n, true
			i++
		case xadd && c.Is(i, "nomkstream"):
			ta.noMkStream = true
		case xadd:
			id, seqGiven, ok := c.parseStreamID(opt, 0, true, true, true)
			if !ok {
				return ta, 0, false
			}
			ta.id, ta.idGiven, ta.seqGiven = id, true, seqGiven
			return c.finishAddTrim(ta, i, xadd, limitGiven)
		default:
			c.Error(ErrSyntax)
			return ta, 0, false
		}
	}
	return c.finishAddTrim(ta, i, xadd, limitGiven)
}

func (c *Ctx) finishAddTrim(ta trimArgs, idPos int, xadd, limitGiven bool) (trimArgs, int, bool) {
	if ta.limit != 0 && ta.strategy == 0 {
		c.Error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
		return ta, 0, false
	}
	if !xadd && ta.strategy == 0 {
		c.Error("ERR syntax error, XTRIM must be called with a trimming strategy")
		return ta, 0, false
	}
	switch {
	case c.Client.Master:
		// The master rewrote an approximate trim into an exact one.
		ta.limit = 0
	case limitGiven:
		if !ta.approx {
			c.Error("ERR syntax error, LIMIT cannot be used without the special ~ option")
			return ta, 0, false
		}
	case ta.approx:
		ta.limit = 100 * streamNodeMaxEntries
	default:
		ta.limit = 0
	}
	return ta, idPos, true
}

// trim applies ta to s, returning how many entries went.
func (ta *trimArgs) trim(s *keyspace.Stream) int64 {
	if ta.strategy == 0 {
		return 0
	}
	return s.Trim(ta.strategy, uint64(ta.maxLen), ta.minID, ta.approx, ta.limit)
}

// rewriteTrim returns args with an approximate trim rewritten as the exact
// one that has the same result on s (streamRewriteTrimArgument).
func (ta *trimArgs) rewriteTrim(args [][]byte, s *keyspace.Stream) {
	if !ta.approx {
		return
	}
	args[ta.argIdx-1] = []byte("=")
	if ta.strategy == keyspace.TrimMaxLen {
		args[ta.argIdx] = strconv.AppendUint(nil, s.Length(), 10)
	} else {
		args[ta.argIdx] = s.FirstEntryID().Append(nil)
	}
}

func xaddCmd(c *Ctx) {
	ta, idPos, ok := c.parseAddTrim(true)
	if !ok {
		return
	}
	fieldPos := idPos + 1
	if n := len(c.Args) - fieldPos; n < 2 || n%2 == 1 {
		c.Error("ERR wrong number of arguments for 'xadd' command")
		return
	}
	if ta.idGiven && ta.seqGiven && ta.id.IsZero() {
		c.Error(errStreamIDZero)
		return
	}
	key := c.Arg(1)
	s, ok := c.lookupStream(key, true)
	if !ok {
		return
	}
	create := s == nil
	if create {
		if ta.noMkStream {
			c.W.Null()
			return
		}
		s = keyspace.NewStream()
	}
	last := s.LastID()
	if last == keyspace.MaxStreamID {
		c.Error(errStreamExhausted)
		return
	}
	var id keyspace.StreamID
	switch {
	case !ta.idGiven:
		now := uint64(c.Now())
		if now > last.Ms {
			id = keyspace.StreamID{Ms: now}
		} else {
			id, _ = last.Incr()
		}
	case !ta.seqGiven:
		id = ta.id
		if last.Ms == ta.id.Ms {
			if last.Seq == ^uint64(0) {
				c.Error(errStreamIDSmaller)
				return
			}
			id = keyspace.StreamID{Ms: last.Ms, Seq: last.Seq + 1}
		}
	default:
		id = ta.id
	}
	if !last.Less(id) {
		c.Error(errStreamIDSmaller)
		return
	}
	fv := c.Args[fieldPos:]
	total := 0
	for _, b := range fv {
		total += len(b)
	}
	if total > 1<<30 {
		c.Error(errStreamTooLarge)
		return
	}
	if create {
		c.DB.SetCollection(key, s, false)
	}
	s.Append(id, fv, streamNodeMaxBytes, streamNodeMaxEntries)
	idStr := id.Append(nil)
	c.W.Bulk(idStr)
	c.Touch(key)
	c.notify(notifyStream, "xadd", key)
	if ta.trim(s) > 0 {
		c.notify(notifyStream, "xtrim", key)
	}
	args := append([][]byte(nil), c.Args...)
	ta.rewriteTrim(args, s)
	if !ta.idGiven || !ta.seqGiven {
		args[idPos] = idStr
	}
	c.PropagateArgs(args...)
	c.e.signalReady(c.DB.Index(), key) // wake clients blocked on the stream
}

func xlenCmd(c *Ctx) {
	s, ok := c.lookupStream(c.Arg(1), false)
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(s.Length()))
}

// parseRangeBounds parses XRANGE's (or XPENDING's) start and end.
func (c *Ctx) parseRangeBounds(startArg, endArg []byte) (start, end keyspace.StreamID, ok bool) {
	start, ex, ok := c.parseIntervalID(startArg, 0)
	if !ok {
		return start, end, false
	}
	if ex {
		if start, ok = start.Incr(); !ok {
			c.Error(errStreamStartID)
			return start, end, false
		}
	}
	end, ex, ok = c.parseIntervalID(endArg, ^uint64(0))
	if !ok {
		return start, end, false
	}
	if ex {
		if end, ok = end.Decr(); !ok {
			c.Error(errStreamEndID)
			return start, end, false
		}
	}
	return start, end, true
}

func xrangeGeneric(c *Ctx, rev bool) {
	startArg, endArg := c.Args[2], c.Args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, end, ok := c.parseRangeBounds(startArg, endArg)
	if !ok {
		return
	}
	count := int64(-1)
	for j := 4; j < len(c.Args); j++ {
		if c.Is(j, "count") && j+1 < len(c.Args) {
			n, ok := c.Int(j + 1)
			if !ok {
				return
			}
			count = max(n, 0)
			j++
			continue
		}
		c.Error(ErrSyntax)
		return
	}
	s, ok := c.lookupStream(c.Arg(1), false)
	if !ok {
		return
	}
	if s == nil {
		c.W.Array(0)
		return
	}
	if count == 0 {
		c.W.NullArray()
		return
	}
	d := c.W.Defer()
	n := c.writeStreamRange(s, start, end, max(count, 0), rev)
	c.W.SetArray(d, int(n))
}

func xdelCmd(c *Ctx) {
	key := c.Arg(1)
	s, ok := c.lookupStream(key, true)
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	ids := make([]keyspace.StreamID, 0, len(c.Args)-2)
	for j := 2; j < len(c.Args); j++ {
		id, _, ok := c.parseStreamID(c.Args[j], 0, true, false, true)
		if !ok {
			return
		}
		ids = append(ids, id)
	}
	deleted := 0
	for _, id := range ids {
		if s.Delete(id) {
			deleted++
		}
	}
	if deleted > 0 {
		c.Touch(key)
		c.notify(notifyStream, "xdel", key)
		c.Propagate()
	}
	c.W.Int(int64(deleted))
}

func xtrimCmd(c *Ctx) {
	ta, _, ok := c.parseAddTrim(false)
	if !ok {
		return
	}
	key := c.Arg(1)
	s, ok := c.lookupStream(key, true)
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	deleted := ta.trim(s)
	if deleted > 0 {
		args := append([][]byte(nil), c.Args...)
		ta.rewriteTrim(args, s)
		c.PropagateArgs(args...)
		c.Touch(key)
		c.notify(notifyStream, "xtrim", key)
	}
	c.W.Int(deleted)
}

func xsetidCmd(c *Ctx) {
	id, _, ok := c.parseStreamID(c.Args[2], 0, true, false, true)
	if !ok {
		return
	}
	entriesAdded := int64(-1)
	var maxDel keyspace.StreamID
	for i := 3; i < len(c.Args); i++ {
		more := len(c.Args) - 1 - i
		switch {
		case c.Is(i, "entriesadded") && more > 0:
			n, ok := c.Int(i + 1)
			if !ok {
				return
			}
			if n < 0 {
				c.Error("ERR entries_added must be positive")
				return
			}
			entriesAdded = n
			i++
		case c.Is(i, "maxdeletedid") && more > 0:
			m, _, ok := c.parseStreamID(c.Args[i+1], 0, true, false, true)
			if !ok {
				return
			}
			if id.Less(m) {
				c.Error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
				return
			}
			maxDel = m
			i++
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	key := c.Arg(1)
	s, ok := c.lookupStream(key, true)
	if !ok {
		return
	}
	if s == nil {
		c.Error(ErrNoSuchKey)
		return
	}
	if s.Length() > 0 {
		if id.Less(s.LastLiveID()) {
			c.Error("ERR The ID specified in XSETID is smaller than the target stream top item")
			return
		}
		if entriesAdded != -1 && s.Length() > uint64(entriesAdded) {
			c.Error("ERR The entries_added specified in XSETID is smaller than the target stream length")
			return
		}
	}
	s.SetLastID(id)
	if entriesAdded != -1 {
		s.SetEntriesAdded(uint64(entriesAdded))
	}
	if !maxDel.IsZero() {
		s.SetMaxDeletedID(maxDel)
	}
	c.Touch(key)
	c.notify(notifyStream, "xsetid", key)
	c.Propagate()
	c.W.OK()
}

// xreadDefaultCount is the COUNT of a blocked XREAD that gave none.
const xreadDefaultCount = 1000

// xreadArgs is a parsed XREAD or XREADGROUP.
type xreadArgs struct {
	group      bool
	timeout    int64 // -1: no BLOCK
	count      int64
	noack      bool
	groupName  string
	consumer   string
	keys       []string
	ids        []keyspace.StreamID // ">" is MaxStreamID
	streamsArg int
}

func (c *Ctx) parseXRead(group bool) (xa xreadArgs, ok bool) {
	xa.group, xa.timeout = group, -1
	hasGroup := false
	for i := 1; i < len(c.Args); i++ {
		more := len(c.Args) - i - 1
		switch {
		case c.Is(i, "block") && more > 0:
			if c.Client.lua {
				c.Error("ERR " + c.Arg(0) + " command is not allowed with BLOCK option from scripts")
				return xa, false
			}
			i++
			n, ok := c.millis(i)
			if !ok {
				return xa, false
			}
			xa.timeout = n
		case c.Is(i, "count") && more > 0:
			i++
			n, ok := c.Int(i)
			if !ok {
				return xa, false
			}
			xa.count = max(n, 0)
		case c.Is(i, "streams") && more > 0:
			xa.streamsArg = i + 1
			n := len(c.Args) - xa.streamsArg
			if n%2 != 0 {
				c.Error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
				return xa, false
			}
			n /= 2
			for j := 0; j < n; j++ {
				xa.keys = append(xa.keys, c.Arg(xa.streamsArg+j))
			}
			i = len(c.Args)
		case c.Is(i, "group") && more >= 2:
			if !group {
				c.Error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
				return xa, false
			}
			xa.groupName, xa.consumer, hasGroup = c.Arg(i+1), c.Arg(i+2), true
			i += 2
		case c.Is(i, "noack"):
			if !group {
				c.Error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
				return xa, false
			}
			xa.noack = true
		default:
			c.Error(ErrSyntax)
			return xa, false
		}
	}
	if xa.streamsArg == 0 {
		c.Error(ErrSyntax)
		return xa, false
	}
	if group && !hasGroup {
		c.Error("ERR Missing GROUP option for XREADGROUP")
		return xa, false
	}
	return xa, true
}

// xreadGeneric is XREAD and XREADGROUP (xreadCommand).
func xreadGeneric(c *Ctx, group bool) {
	xa, ok := c.parseXRead(group)
	if !ok {
		return
	}
	n := len(xa.keys)
	groups := make([]*keyspace.StreamGroup, n)
	xa.ids = make([]keyspace.StreamID, n)
	for j := 0; j < n; j++ {
		key := xa.keys[j]
		idArg := c.Args[xa.streamsArg+n+j]
		s, ok := c.lookupStream(key, false)
		if !ok {
			return
		}
		if group {
			var g *keyspace.StreamGroup
			if s != nil {
				g = s.Group(xa.groupName)
			}
			if g == nil {
				c.Error("NOGROUP No such key '" + cString(key) + "' or consumer group '" + cString(xa.groupName) + "' in XREADGROUP with GROUP option")
				return
			}
			groups[j] = g
		}
		switch cString(view(idArg)) { // strcmp: "$\x00..." and ">\x00..." too
		case "$":
			if group {
				c.Error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
				return
			}
			if s != nil {
				xa.ids[j] = s.LastID()
			}
			continue
		case ">":
			if !group {
				c.Error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
				return
			}
			xa.ids[j] = keyspace.MaxStreamID
			continue
		}
		id, _, ok := c.parseStreamID(idArg, 0, true, false, true)
		if !ok {
			return
		}
		xa.ids[j] = id
	}
	var reserve []int
	if group && c.e.maxWrite > 0 {
		// The effects name the group and consumer again for every stream
		// delivered from: refuse a read whose effects would not fit a log
		// entry even without entries, and keep room for the later
		// streams' while the earlier ones deliver.
		reserve = make([]int, n+1)
		for j := n - 1; j >= 0; j-- {
			reserve[j] = reserve[j+1]
			if s, _ := c.lookupStream(xa.keys[j], false); s != nil && (xa.ids[j] != keyspace.MaxStreamID || s.Length() > 0) {
				reserve[j] += groupReadBytes(xa.keys[j], xa.groupName, xa.consumer, groups[j])
			}
		}
		if reserve[0] > c.claimBudget("", "") {
			c.Error(c.e.tooLargeForEntry("this XREADGROUP's effects would be about " + strconv.Itoa(reserve[0]) + " bytes"))
			return
		}
	}
	served := 0
	var d = c.W.Defer()
	for j := 0; j < n; j++ {
		s, _ := c.lookupStream(xa.keys[j], false)
		if s == nil {
			continue
		}
		gt := xa.ids[j]
		sync, history := false, false
		if group {
			if gt != keyspace.MaxStreamID {
				sync, history = true, true
			} else if s.Length() > 0 && groups[j].LastID.Less(s.LastLiveID()) {
				sync, gt = true, groups[j].LastID
			}
		} else if s.Length() > 0 && gt.Less(s.LastLiveID()) {
			sync = true
		}
		if !sync {
			continue
		}
		served++
		start, _ := gt.Incr()
		if c.W.Proto == 2 {
			c.W.Array(2)
		}
		c.W.BulkString(xa.keys[j])
		if group {
			later := 0
			if reserve != nil {
				later = reserve[j+1]
			}
			c.deliverGroup(xa.keys[j], s, groups[j], xa.groupName, xa.consumer, start, xa.count, xa.noack, history, later)
		} else {
			d := c.W.Defer()
			m := c.writeStreamRange(s, start, keyspace.MaxStreamID, xa.count, false)
			c.W.SetArray(d, int(m))
		}
	}
	if served > 0 {
		if c.W.Proto == 2 {
			c.W.SetArray(d, served)
		} else {
			c.W.SetMap(d, served)
		}
		return
	}
	if xa.timeout < 0 {
		c.W.NullArray()
		return
	}
	count := xa.count
	if count == 0 {
		count = xreadDefaultCount
	}
	timeout := time.Duration(xa.timeout) * time.Millisecond
	if xa.timeout > 0 && xa.timeout > 1<<62/int64(time.Millisecond) {
		timeout = 0
	}
	ids := xa.ids
	keys := append([]string(nil), xa.keys...)
	for i := range keys {
		keys[i] = string([]byte(keys[i]))
	}
	groupName, consumer := string([]byte(xa.groupName)), string([]byte(xa.consumer))
	c.Block(keys, timeout, func(c *Ctx) bool {
		key := c.ReadyKey()
		j := 0
		for j < len(keys) && keys[j] != key {
			j++
		}
		if j == len(keys) {
			return false
		}
		o := c.DB.Get(key)
		if o == nil || o.Kind() != keyspace.KindStream {
			if group {
				// Deleted or overwritten: its groups are gone with it,
				// so Redis ends the wait now rather than at the next
				// XADD (which could only say NOGROUP).
				c.Error("UNBLOCKED the stream key no longer exists")
				return true
			}
			return false
		}
		s := o.Collection().(*keyspace.Stream)
		gt := ids[j]
		var g *keyspace.StreamGroup
		if group {
			if g = s.Group(groupName); g == nil {
				c.Error("NOGROUP the consumer group this client was blocked on no longer exists")
				return true
			}
			gt = g.LastID
		}
		if !gt.Less(s.LastID()) {
			return false
		}
		start, _ := gt.Incr()
		if c.W.Proto == 2 {
			c.W.Array(1)
			c.W.Array(2)
		} else {
			c.W.Map(1)
		}
		c.W.BulkString(key)
		if group {
			c.deliverGroup(key, s, g, groupName, consumer, start, count, xa.noack, false, 0)
		} else {
			d := c.W.Defer()
			m := c.writeStreamRange(s, start, keyspace.MaxStreamID, count, false)
			c.W.SetArray(d, int(m))
		}
		return true
	}, func(c *Ctx) { c.W.NullArray() })
}

// ---- XINFO ----

func xinfoHelpCmd(c *Ctx) {
	helpReply(c, "XINFO",
		"CONSUMERS <key> <groupname>",
		"    Show consumers of <groupname>.",
		"GROUPS <key>",
		"    Show the stream consumer groups.",
		"STREAM <key> [FULL [COUNT <count>]",
		"    Show information about the stream.")
}

// subcommandSyntaxError replies as Redis's addReplySubcommandSyntaxError.
func (c *Ctx) subcommandSyntaxError() {
	c.Error("ERR unknown subcommand or wrong number of arguments for '" + trunc(c.Arg(1), 128) + "'. Try " + upper(c.Arg(0)) + " HELP.")
}

// lookupStreamInfo looks up XINFO's key: "no such key" when missing.
func (c *Ctx) lookupStreamInfo() (*keyspace.Stream, bool) {
	s, ok := c.lookupStream(c.Arg(2), false)
	if ok && s == nil {
		c.Error(ErrNoSuchKey)
		return nil, false
	}
	return s, ok
}

func xinfoStreamCmd(c *Ctx) {
	s, ok := c.lookupStreamInfo()
	if !ok {
		return
	}
	full, count := false, int64(10)
	switch opts := len(c.Args) - 3; {
	case opts == 0:
	case opts != 1 && opts != 3, !c.Is(3, "full"), opts == 3 && !c.Is(4, "count"):
		c.subcommandSyntaxError()
		return
	default:
		full = true
		if opts == 3 {
			n, ok := c.Int(5)
			if !ok {
				return
			}
			if n < 0 {
				n = 10
			}
			count = n
		}
	}
	if full {
		c.W.Map(9)
	} else {
		c.W.Map(10)
	}
	c.W.BulkString("length")
	c.W.Int(int64(s.Length()))
	c.W.BulkString("radix-tree-keys")
	c.W.Int(int64(s.NodeCount()))
	c.W.BulkString("radix-tree-nodes")
	c.W.Int(int64(s.RadixTreeNodes()))
	c.W.BulkString("last-generated-id")
	c.W.Bulk(s.LastID().Append(nil))
	c.W.BulkString("max-deleted-entry-id")
	c.W.Bulk(s.MaxDeletedID().Append(nil))
	c.W.BulkString("entries-added")
	c.W.Int(int64(s.EntriesAdded()))
	c.W.BulkString("recorded-first-entry-id")
	c.W.Bulk(s.FirstID().Append(nil))
	if !full {
		c.W.BulkString("groups")
		c.W.Int(int64(len(s.Groups())))
		c.W.BulkString("first-entry")
		if c.writeStreamRange(s, keyspace.StreamID{}, keyspace.MaxStreamID, 1, false) == 0 {
			c.W.Null()
		}
		c.W.BulkString("last-entry")
		if c.writeStreamRange(s, keyspace.StreamID{}, keyspace.MaxStreamID, 1, true) == 0 {
			c.W.Null()
		}
		return
	}
	c.W.BulkString("entries")
	d := c.W.Defer()
	n := c.writeStreamRange(s, keyspace.StreamID{}, keyspace.MaxStreamID, count, false)
	c.W.SetArray(d, int(n))
	c.W.BulkString("groups")
	c.W.Array(len(s.Groups()))
	for _, g := range s.Groups() {
		c.W.Map(7)
		c.W.BulkString("name")
		c.W.BulkString(g.Name)
		c.W.BulkString("last-delivered-id")
		c.W.Bulk(g.LastID.Append(nil))
		c.W.BulkString("entries-read")
		c.writeEntriesRead(g)
		c.W.BulkString("lag")
		c.writeLag(s, g)
		c.W.BulkString("pel-count")
		c.W.Int(int64(g.PendingLen()))
		c.W.BulkString("pending")
		d := c.W.Defer()
		var m int64
		g.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
			if count != 0 && m >= count {
				return false
			}
			c.W.Array(4)
			c.W.Bulk(p.ID.Append(nil))
			c.W.BulkString(p.Consumer.Name)
			c.W.Int(p.DeliveryTime)
			c.W.Int(int64(p.DeliveryCount))
			m++
			return true
		})
		c.W.SetArray(d, int(m))
		c.W.BulkString("consumers")
		c.W.Array(len(g.Consumers()))
		for _, cons := range g.Consumers() {
			c.W.Map(4)
			c.W.BulkString("name")
			c.W.BulkString(cons.Name)
			c.W.BulkString("seen-time")
			c.W.Int(cons.SeenTime)
			c.W.BulkString("pel-count")
			c.W.Int(int64(cons.PendingLen()))
			c.W.BulkString("pending")
			d := c.W.Defer()
			var m int64
			cons.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
				if count != 0 && m >= count {
					return false
				}
				c.W.Array(3)
				c.W.Bulk(p.ID.Append(nil))
				c.W.Int(p.DeliveryTime)
				c.W.Int(int64(p.DeliveryCount))
				m++
				return true
			})
			c.W.SetArray(d, int(m))
		}
	}
}

func (c *Ctx) writeEntriesRead(g *keyspace.StreamGroup) {
	if g.EntriesRead == keyspace.EntriesReadInvalid {
		c.W.Null()
		return
	}
	c.W.Int(g.EntriesRead)
}

func (c *Ctx) writeLag(s *keyspace.Stream, g *keyspace.StreamGroup) {
	if lag, ok := s.Lag(g); ok {
		c.W.Int(lag)
		return
	}
	c.W.Null()
}

func xinfoGroupsCmd(c *Ctx) {
	s, ok := c.lookupStreamInfo()
	if !ok {
		return
	}
	c.W.Array(len(s.Groups()))
	for _, g := range s.Groups() {
		c.W.Map(6)
		c.W.BulkString("name")
		c.W.BulkString(g.Name)
		c.W.BulkString("consumers")
		c.W.Int(int64(len(g.Consumers())))
		c.W.BulkString("pending")
		c.W.Int(int64(g.PendingLen()))
		c.W.BulkString("last-delivered-id")
		c.W.Bulk(g.LastID.Append(nil))
		c.W.BulkString("entries-read")
		c.writeEntriesRead(g)
		c.W.BulkString("lag")
		c.writeLag(s, g)
	}
}

func xinfoConsumersCmd(c *Ctx) {
	s, ok := c.lookupStreamInfo()
	if !ok {
		return
	}
	g := s.Group(c.Arg(3))
	if g == nil {
		c.Error("NOGROUP No such consumer group '" + cString(c.Arg(3)) + "' for key name '" + cString(c.Arg(2)) + "'")
		return
	}
	now := c.Now()
	c.W.Array(len(g.Consumers()))
	for _, cons := range g.Consumers() {
		c.W.Map(3)
		c.W.BulkString("name")
		c.W.BulkString(cons.Name)
		c.W.BulkString("pending")
		c.W.Int(int64(cons.PendingLen()))
		c.W.BulkString("idle")
		c.W.Int(max(now-cons.SeenTime, 0))
	}
}
