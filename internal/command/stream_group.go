package command

import (
	"strconv"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Consumer group commands (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
// XAUTOCLAIM). Effects as Redis 7.0 propagates them: every entry
// XREADGROUP, XCLAIM or XAUTOCLAIM delivers or drops goes out as an XCLAIM
// ... TIME <delivery time> RETRYCOUNT <count> FORCE JUSTID LASTID <group's
// last ID>, a NOACK read's progress as XGROUP SETID ... ENTRIESREAD. Where
// Redis's replicas drift, ferry propagates more: a consumer XREADGROUP
// creates goes out as XGROUP CREATECONSUMER (Redis only does so with
// NOACK), a history read's new delivery times and counts as XCLAIMs, and
// every read that moves the group as XGROUP SETID ... ENTRIESREAD (Redis's
// XCLAIM LASTID leaves a replica's entries-read behind).
// A replica applying the master's XCLAIM takes its TIME as is and as the
// consumer's seen time, so that times come from the master's clock.

// errNoGroup is the NOGROUP reply of XACK-like commands. Names end at a
// NUL there and in the other NOGROUP errors (Redis formats them with %s).
func errNoGroup(key, group string) string {
	return "NOGROUP No such key '" + cString(key) + "' or consumer group '" + cString(group) + "'"
}

// claims collects the XCLAIM effects of one command. Redis propagates an
// XCLAIM per entry; ferry writes each run of entries with the same
// consumer, delivery time and count as one XCLAIM with all their IDs,
// which does the same on a replica and keeps the effect about as large as
// the IDs (a read of thousands of entries would otherwise outgrow a log
// entry). LASTID is the group's last ID when the command ends: XCLAIM only
// ever raises it, so the end state is the same.
type claims struct {
	key, group string
	g          *keyspace.StreamGroup
	runs       []claimRun
	sized      claimRun // the last run cost has seen (only its key)
	sizing     bool
}

type claimRun struct {
	consumer string
	time     int64
	count    uint64
	ids      []keyspace.StreamID
}

func newClaims(key, group string, g *keyspace.StreamGroup) *claims {
	return &claims{key: key, group: group, g: g}
}

// add records the XCLAIM that reproduces p, as it is now, on a replica.
func (cl *claims) add(p *keyspace.StreamPending) {
	if n := len(cl.runs); n > 0 {
		r := &cl.runs[n-1]
		if r.consumer == p.Consumer.Name && r.time == p.DeliveryTime && r.count == p.DeliveryCount {
			r.ids = append(r.ids, p.ID)
			return
		}
	}
	cl.runs = append(cl.runs, claimRun{consumer: p.Consumer.Name, time: p.DeliveryTime, count: p.DeliveryCount, ids: []keyspace.StreamID{p.ID}})
}

// propagate records the runs as XCLAIMs.
func (cl *claims) propagate(c *Ctx) {
	for _, r := range cl.runs {
		args := make([][]byte, 0, len(r.ids)+13)
		args = append(args, []byte("XCLAIM"), []byte(cl.key), []byte(cl.group), []byte(r.consumer), []byte("0"))
		for _, id := range r.ids {
			args = append(args, id.Append(nil))
		}
		args = append(args, []byte("TIME"), strconv.AppendInt(nil, r.time, 10),
			[]byte("RETRYCOUNT"), strconv.AppendUint(nil, r.count, 10),
			[]byte("FORCE"), []byte("JUSTID"), []byte("LASTID"), cl.g.LastID.Append(nil))
		c.PropagateArgs(args...)
	}
	cl.runs = nil
}

// claimBudget is how many bytes of XCLAIM IDs a command may still add to
// the unit's effects before the unit would outgrow one log entry
// (SetMaxWriteBytes), less room for the rest of its effects; -1 when there
// is no limit. Group reads and XAUTOCLAIM deliver fewer entries than asked
// rather than pass it.
func (c *Ctx) claimBudget(key, group string) int {
	if c.e.maxWrite == 0 {
		return -1
	}
	return max(c.e.maxWrite-len(c.e.eff.buf)-4096-3*(len(key)+len(group)), 0)
}

// claimCost is what one more ID adds to an XCLAIM effect.
func claimCost(id keyspace.StreamID) int { return len(id.Append(nil)) + 16 }

// cost is what claiming id adds to the effects when it will belong to
// consumer with the delivery time and count given: its ID, and a whole
// XCLAIM when it does not continue the run of the claim cost saw before
// (entries whose counts differ each need their own).
func (cl *claims) cost(consumer string, time int64, count uint64, id keyspace.StreamID) int {
	n := claimCost(id)
	if !cl.sizing || cl.sized.consumer != consumer || cl.sized.time != time || cl.sized.count != count {
		// XCLAIM key group consumer 0 TIME t RETRYCOUNT n FORCE JUSTID LASTID id
		n += 13*16 + len("XCLAIM0TIMERETRYCOUNTFORCEJUSTIDLASTID") + 3*20 + len(cl.key) + len(cl.group) + len(consumer)
		cl.sized, cl.sizing = claimRun{consumer: consumer, time: time, count: count}, true
	}
	return n
}

// lookupGroup returns key's stream and its consumer group, replying
// NOGROUP when either is missing (or WRONGTYPE); ok is false after a reply.
func (c *Ctx) lookupGroup(key, group string, write bool) (*keyspace.Stream, *keyspace.StreamGroup, bool) {
	s, ok := c.lookupStream(key, write)
	if !ok {
		return nil, nil, false
	}
	var g *keyspace.StreamGroup
	if s != nil {
		g = s.Group(group)
	}
	if g == nil {
		c.Error(errNoGroup(key, group))
		return nil, nil, false
	}
	return s, g, true
}

// propagateGroupID records an XGROUP SETID of the group's position.
func (c *Ctx) propagateGroupID(key, group string, g *keyspace.StreamGroup) {
	c.PropagateArgs([]byte("XGROUP"), []byte("SETID"), []byte(key), []byte(group), g.LastID.Append(nil),
		[]byte("ENTRIESREAD"), strconv.AppendInt(nil, g.EntriesRead, 10))
}

// consumerFor returns the consumer called name, refreshing its seen time,
// or creates it (propagating XGROUP CREATECONSUMER when propagate).
func (c *Ctx) consumerFor(key, group string, g *keyspace.StreamGroup, name string, now int64, propagate bool) *keyspace.StreamConsumer {
	if cons := g.Consumer(name); cons != nil {
		cons.SeenTime = now
		return cons
	}
	cons := g.CreateConsumer(name, now)
	c.notify(notifyStream, "xgroup-createconsumer", key)
	if propagate {
		c.PropagateArgs([]byte("XGROUP"), []byte("CREATECONSUMER"), []byte(key), []byte(group), []byte(name))
	}
	return cons
}

// groupReadBytes is about how large a group read's effects from one
// stream are beside its entries' IDs: the consumer's creation, an XCLAIM
// and the group's XGROUP SETID.
func groupReadBytes(key, group, consumer string, g *keyspace.StreamGroup) int {
	n := 512 + 2*len(key) + 2*len(group) + len(consumer)
	if g.Consumer(consumer) == nil {
		n += 128 + len(key) + len(group) + len(consumer)
	}
	return n
}

// deliverGroup serves XREADGROUP from one stream (streamReplyWithRange
// with a group): the consumer's history from start when history, else the
// entries after the group's last ID, creating pending entries unless noack.
// It leaves reserve bytes of the unit's room (SetMaxWriteBytes) to the
// streams read after it.
func (c *Ctx) deliverGroup(key string, s *keyspace.Stream, g *keyspace.StreamGroup, group, consumer string, start keyspace.StreamID, count int64, noack, history bool, reserve int) {
	now := c.Now()
	cons := c.consumerFor(key, group, g, consumer, now, true)
	d := c.W.Defer()
	var n int64
	cl := newClaims(key, group, g)
	budget := c.claimBudget(key, group)
	if budget >= 0 {
		budget = max(budget-reserve, 0)
	}
	if history {
		var pending []*keyspace.StreamPending
		cons.RangePending(start, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
			if count != 0 && int64(len(pending)) >= count {
				return false
			}
			if budget >= 0 && s.Exists(p.ID) {
				if budget -= cl.cost(cons.Name, now, p.DeliveryCount+1, p.ID); budget < 0 {
					return false
				}
			}
			pending = append(pending, p)
			return true
		})
		for _, p := range pending {
			if fv := s.Get(p.ID); fv == nil {
				c.W.Array(2)
				c.W.Bulk(p.ID.Append(nil))
				c.W.NullArray()
			} else {
				c.writeStreamEntry(p.ID, fv)
				p.DeliveryTime = now
				p.DeliveryCount++
				cl.add(p)
			}
			n++
		}
		cl.propagate(c)
		c.W.SetArray(d, int(n))
		return
	}
	advanced := false
	s.Range(start, keyspace.MaxStreamID, false, func(id keyspace.StreamID, fv [][]byte) bool {
		if !noack && budget >= 0 {
			if budget -= cl.cost(cons.Name, now, 1, id); budget < 0 {
				return false
			}
		}
		if g.LastID.Less(id) {
			if g.EntriesRead != keyspace.EntriesReadInvalid && !s.RangeHasTombstones(id) {
				g.EntriesRead++
			} else if s.EntriesAdded() > 0 {
				g.EntriesRead = s.EstimateDistance(id)
			}
			g.LastID = id
			advanced = true
		}
		c.writeStreamEntry(id, fv)
		if !noack {
			p := g.Pending(id)
			if p == nil {
				p = g.AddPending(id, cons, now, 1)
			} else {
				g.Move(p, cons)
				p.DeliveryTime, p.DeliveryCount = now, 1
			}
			cl.add(p)
		}
		n++
		return count == 0 || n < count
	})
	cl.propagate(c)
	if advanced {
		// Redis propagates this with NOACK only (the XCLAIMs' LASTID moves
		// the group otherwise, but not its entries-read, which replicas
		// then miss): ferry always does.
		c.propagateGroupID(key, group, g)
	}
	c.W.SetArray(d, int(n))
}

// ---- XGROUP ----

func xgroupHelpCmd(c *Ctx) {
	helpReply(c, "XGROUP",
		"CREATE <key> <groupname> <id|$> [option]",
		"    Create a new consumer group. Options are:",
		"    * MKSTREAM",
		"      Create the empty stream if it does not exist.",
		"    * ENTRIESREAD entries_read",
		"      Set the group's entries_read counter (internal use).",
		"CREATECONSUMER <key> <groupname> <consumer>",
		"    Create a new consumer in the specified group.",
		"DELCONSUMER <key> <groupname> <consumer>",
		"    Remove the specified consumer.",
		"DESTROY <key> <groupname>",
		"    Remove the specified group.",
		"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
		"    Set the current group ID and entries_read counter.")
}

// xgroupPrologue does what xgroupCommand does before dispatching: parse
// CREATE's and SETID's options, look the key up, and check that the key
// (and, for every subcommand but CREATE and DESTROY, the group) exists.
func (c *Ctx) xgroupPrologue(create, setid bool) (s *keyspace.Stream, g *keyspace.StreamGroup, mkstream bool, entriesRead int64, ok bool) {
	entriesRead = keyspace.EntriesReadInvalid
	for i := 5; i < len(c.Args); {
		switch {
		case create && c.Is(i, "mkstream"):
			mkstream = true
			i++
		case (create || setid) && c.Is(i, "entriesread") && i+1 < len(c.Args):
			n, ok := c.Int(i + 1)
			if !ok {
				return nil, nil, false, 0, false
			}
			// The master's own counter may have wrapped past the int64
			// limit (Redis's does too): its effects set it as it is.
			if n < 0 && n != keyspace.EntriesReadInvalid && !c.Client.Master {
				c.Error("ERR value for ENTRIESREAD must be positive or -1")
				return nil, nil, false, 0, false
			}
			entriesRead = n
			i += 2
		default:
			c.subcommandSyntaxError()
			return nil, nil, false, 0, false
		}
	}
	s, ok = c.lookupStream(c.Arg(2), true)
	if !ok {
		return nil, nil, false, 0, false
	}
	if !mkstream {
		if s == nil {
			c.Error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
			return nil, nil, false, 0, false
		}
		g = s.Group(c.Arg(3))
		if g == nil && !create && !c.Is(1, "destroy") {
			c.Error("NOGROUP No such consumer group '" + cString(c.Arg(3)) + "' for key name '" + cString(c.Arg(2)) + "'")
			return nil, nil, false, 0, false
		}
	}
	return s, g, mkstream, entriesRead, true
}

func xgroupCreateCmd(c *Ctx) {
	s, _, _, entriesRead, ok := c.xgroupPrologue(true, false)
	if !ok {
		return
	}
	if len(c.Args) > 8 {
		c.subcommandSyntaxError()
		return
	}
	var id keyspace.StreamID
	if cString(c.Arg(4)) == "$" { // strcmp: "$\x00..." too
		if s != nil {
			id = s.LastID()
		}
	} else if id, _, ok = c.parseStreamID(c.Args[4], 0, true, false, true); !ok {
		return
	}
	key := c.Arg(2)
	if s == nil {
		s = keyspace.NewStream()
		c.DB.SetCollection(key, s, false)
	}
	if s.CreateGroup(c.Arg(3), id, entriesRead) == nil {
		c.Error("BUSYGROUP Consumer Group name already exists")
		return
	}
	c.Touch(key)
	c.notify(notifyStream, "xgroup-create", key)
	c.Propagate()
	c.W.OK()
}

func xgroupSetidCmd(c *Ctx) {
	s, g, _, entriesRead, ok := c.xgroupPrologue(false, true)
	if !ok {
		return
	}
	if len(c.Args) != 5 && len(c.Args) != 7 {
		c.subcommandSyntaxError()
		return
	}
	var id keyspace.StreamID
	if cString(c.Arg(4)) == "$" { // strcmp: "$\x00..." too
		id = s.LastID()
	} else if id, _, ok = c.parseStreamID(c.Args[4], 0, false, false, true); !ok {
		return
	}
	g.LastID, g.EntriesRead = id, entriesRead
	c.Touch(c.Arg(2))
	c.notify(notifyStream, "xgroup-setid", c.Arg(2))
	c.Propagate()
	c.W.OK()
}

func xgroupDestroyCmd(c *Ctx) {
	s, g, _, _, ok := c.xgroupPrologue(false, false)
	if !ok {
		return
	}
	if g == nil {
		c.W.Int(0)
		return
	}
	s.DestroyGroup(g.Name)
	c.Touch(c.Arg(2))
	c.notify(notifyStream, "xgroup-destroy", c.Arg(2))
	c.Propagate()
	c.W.Int(1)
	c.e.signalReady(c.DB.Index(), c.Arg(2)) // blocked XREADGROUPs get NOGROUP
}

func xgroupCreateConsumerCmd(c *Ctx) {
	_, g, _, _, ok := c.xgroupPrologue(false, false)
	if !ok {
		return
	}
	if g.Consumer(c.Arg(4)) != nil {
		c.W.Int(0)
		return
	}
	g.CreateConsumer(c.Arg(4), c.Now())
	c.Touch(c.Arg(2))
	c.notify(notifyStream, "xgroup-createconsumer", c.Arg(2))
	c.Propagate()
	c.W.Int(1)
}

func xgroupDelConsumerCmd(c *Ctx) {
	_, g, _, _, ok := c.xgroupPrologue(false, false)
	if !ok {
		return
	}
	pending := g.DeleteConsumer(c.Arg(4))
	if pending < 0 {
		c.W.Int(0)
		return
	}
	c.Touch(c.Arg(2))
	c.notify(notifyStream, "xgroup-delconsumer", c.Arg(2))
	c.Propagate()
	c.W.Int(int64(pending))
}

// ---- XACK, XPENDING ----

func xackCmd(c *Ctx) {
	key := c.Arg(1)
	// a read lookup, as Redis's (a miss counts and raises keymiss)
	s, ok := c.lookupStream(key, false)
	if !ok {
		return
	}
	var g *keyspace.StreamGroup
	if s != nil {
		g = s.Group(c.Arg(2))
	}
	if g == nil {
		c.W.Int(0)
		return
	}
	ids := make([]keyspace.StreamID, 0, len(c.Args)-3)
	for j := 3; j < len(c.Args); j++ {
		id, _, ok := c.parseStreamID(c.Args[j], 0, true, false, true)
		if !ok {
			return
		}
		ids = append(ids, id)
	}
	acked := 0
	for _, id := range ids {
		if g.Ack(id) {
			acked++
		}
	}
	if acked > 0 {
		c.Touch(key)
		c.Propagate()
	}
	c.W.Int(int64(acked))
}

func xpendingCmd(c *Ctx) {
	argc := len(c.Args)
	if argc != 3 && (argc < 6 || argc > 9) {
		c.Error(ErrSyntax)
		return
	}
	var (
		start, end keyspace.StreamID
		count      int64
		minIdle    int64
		consumer   string
		hasCons    bool
	)
	if argc >= 6 {
		at := 3
		if c.Is(3, "idle") {
			n, ok := c.Int(4)
			if !ok {
				return
			}
			minIdle = n
			if argc < 8 {
				c.Error(ErrSyntax)
				return
			}
			at += 2
		}
		n, ok := c.Int(at + 2)
		if !ok {
			return
		}
		count = max(n, 0)
		if start, end, ok = c.parseRangeBounds(c.Args[at], c.Args[at+1]); !ok {
			return
		}
		if at+3 < argc {
			consumer, hasCons = c.Arg(at+3), true
		}
	}
	_, g, ok := c.lookupGroup(c.Arg(1), c.Arg(2), false)
	if !ok {
		return
	}
	if argc == 3 {
		c.W.Array(4)
		c.W.Int(int64(g.PendingLen()))
		if g.PendingLen() == 0 {
			c.W.Null()
			c.W.Null()
			c.W.NullArray()
			return
		}
		var first, last keyspace.StreamID
		seen := false
		g.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
			if !seen {
				first, seen = p.ID, true
			}
			last = p.ID
			return true
		})
		c.W.Bulk(first.Append(nil))
		c.W.Bulk(last.Append(nil))
		d := c.W.Defer()
		n := 0
		for _, cons := range g.Consumers() {
			if cons.PendingLen() == 0 {
				continue
			}
			c.W.Array(2)
			c.W.BulkString(cons.Name)
			c.W.BulkInt(int64(cons.PendingLen()))
			n++
		}
		c.W.SetArray(d, n)
		return
	}
	rangeFn := g.RangePending
	if hasCons {
		cons := g.Consumer(consumer)
		if cons == nil {
			c.W.Array(0)
			return
		}
		rangeFn = cons.RangePending
	}
	now := c.Now()
	d := c.W.Defer()
	n := 0
	rangeFn(start, end, func(p *keyspace.StreamPending) bool {
		if count == 0 {
			return false
		}
		idle := now - p.DeliveryTime
		if minIdle != 0 && idle < minIdle {
			return true
		}
		count--
		n++
		c.W.Array(4)
		c.W.Bulk(p.ID.Append(nil))
		c.W.BulkString(p.Consumer.Name)
		c.W.Int(max(idle, 0))
		c.W.Int(int64(p.DeliveryCount))
		return true
	})
	c.W.SetArray(d, n)
}

// ---- XCLAIM, XAUTOCLAIM ----

func xclaimCmd(c *Ctx) {
	key, group := c.Arg(1), c.Arg(2)
	s, g, ok := c.lookupGroup(key, group, false) // a read lookup, as XACK's
	if !ok {
		return
	}
	minIdle, ok := c.intOr(4, "ERR Invalid min-idle-time argument for XCLAIM")
	if !ok {
		return
	}
	minIdle = max(minIdle, 0)
	var ids []keyspace.StreamID
	j := 5
	for ; j < len(c.Args); j++ {
		id, _, ok := c.parseStreamID(c.Args[j], 0, true, false, false)
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	now := c.Now()
	var (
		retry        = int64(-1)
		retryGiven   bool
		deliveryTime = int64(-1)
		timeGiven    bool
		force        bool
		justID       bool
		lastID       keyspace.StreamID
	)
	for ; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		switch {
		case c.Is(j, "force"):
			force = true
		case c.Is(j, "justid"):
			justID = true
		case c.Is(j, "idle") && more > 0:
			j++
			n, ok := c.intOr(j, "ERR Invalid IDLE option argument for XCLAIM")
			if !ok {
				return
			}
			deliveryTime, timeGiven = now-n, false
		case c.Is(j, "time") && more > 0:
			j++
			n, ok := c.intOr(j, "ERR Invalid TIME option argument for XCLAIM")
			if !ok {
				return
			}
			deliveryTime, timeGiven = n, true
		case c.Is(j, "retrycount") && more > 0:
			j++
			if u, err := strconv.ParseUint(c.Arg(j), 10, 64); err == nil && u > 1<<63-1 && c.Client.Master {
				// the master's effect of a delivery count past the
				// int64 limit (counts are unsigned, as Redis's)
				retry, retryGiven = int64(u), true
				break
			}
			n, ok := c.intOr(j, "ERR Invalid RETRYCOUNT option argument for XCLAIM")
			if !ok {
				return
			}
			retry, retryGiven = n, n >= 0
		case c.Is(j, "lastid") && more > 0:
			j++
			id, _, ok := c.parseStreamID(c.Args[j], 0, true, false, true)
			if !ok {
				return
			}
			lastID = id
		default:
			c.Error("ERR Unrecognized XCLAIM option '" + cString(c.Arg(j)) + "'")
			return
		}
	}
	seen := now
	switch {
	case c.Client.Master && timeGiven && deliveryTime >= 0:
		// The master's XCLAIM: its delivery time, and its clock for the
		// consumer's seen time.
		seen = deliveryTime
	case deliveryTime < 0 || deliveryTime > now:
		deliveryTime = now
	}
	name := c.Arg(3)
	if budget := c.claimBudget(key, group); budget >= 0 {
		if n := xclaimEffectBytes(c, s, g, ids, name, minIdle, deliveryTime, retry, force, justID); n > budget {
			c.Error(c.e.tooLargeForEntry("this XCLAIM's effect would be about " + strconv.Itoa(n) + " bytes"))
			return
		}
	}
	propagateLast := false
	if g.LastID.Less(lastID) {
		g.LastID = lastID
		propagateLast = true
	}
	var cons *keyspace.StreamConsumer
	cl := newClaims(key, group, g)
	d := c.W.Defer()
	n := 0
	changed := false
	for _, id := range ids {
		p := g.Pending(id)
		if !s.Exists(id) {
			if p != nil {
				cl.add(p)
				propagateLast = false
				g.Ack(id)
				changed = true
			}
			continue
		}
		if force && p == nil {
			if cons == nil {
				cons = c.consumerFor(key, group, g, name, seen, false)
			}
			p = g.AddPending(id, cons, deliveryTime, 1)
		} else if p != nil {
			if minIdle != 0 && now-p.DeliveryTime < minIdle {
				continue
			}
			if cons == nil {
				cons = c.consumerFor(key, group, g, name, seen, false)
			}
			g.Move(p, cons)
		} else {
			continue
		}
		p.DeliveryTime = deliveryTime
		if retryGiven {
			p.DeliveryCount = uint64(retry)
		} else if !justID {
			p.DeliveryCount++
		}
		if justID {
			c.W.Bulk(id.Append(nil))
		} else {
			c.writeStreamEntry(id, s.Get(id))
		}
		n++
		cl.add(p)
		propagateLast = false
		changed = true
	}
	cl.propagate(c)
	if propagateLast {
		c.propagateGroupID(key, group, g)
		changed = true
	}
	if changed {
		c.Touch(key)
	}
	c.W.SetArray(d, n)
}

// xclaimEffectBytes is about how large the XCLAIM effects of claiming ids
// would be, found before anything changes: an ID given twice counts as a
// whole XCLAIM of its own.
func xclaimEffectBytes(c *Ctx, s *keyspace.Stream, g *keyspace.StreamGroup, ids []keyspace.StreamID, name string,
	minIdle, deliveryTime, retry int64, force, justID bool) int {
	sim := newClaims(c.Arg(1), c.Arg(2), g)
	now := c.Now()
	total := 0
	var given map[keyspace.StreamID]bool
	if len(ids) > 1 {
		given = make(map[keyspace.StreamID]bool, len(ids))
	}
	for _, id := range ids {
		if given != nil {
			if given[id] {
				sim.sizing = false
				total += sim.cost(name, deliveryTime, 0, id)
				continue
			}
			given[id] = true
		}
		p := g.Pending(id)
		var count uint64
		switch {
		case !s.Exists(id):
			if p != nil {
				total += sim.cost(p.Consumer.Name, p.DeliveryTime, p.DeliveryCount, id)
			}
			continue
		case p == nil && !force:
			continue
		case p == nil:
			count = 1
		case minIdle != 0 && now-p.DeliveryTime < minIdle:
			continue
		default:
			count = p.DeliveryCount
		}
		if retry >= 0 {
			count = uint64(retry)
		} else if !justID {
			count++
		}
		total += sim.cost(name, deliveryTime, count, id)
	}
	return total
}

// intOr parses argument i as an integer, replying msg when it is not one.
func (c *Ctx) intOr(i int, msg string) (int64, bool) {
	n, ok := num.ParseInt(c.Args[i])
	if !ok {
		c.Error(msg)
	}
	return n, ok
}

func xautoclaimCmd(c *Ctx) {
	key, group := c.Arg(1), c.Arg(2)
	// Redis looks the key up (a read: a miss counts and raises keymiss)
	// before it parses the arguments, and checks its type after
	o := c.Lookup(key)
	minIdle, ok := c.intOr(4, "ERR Invalid min-idle-time argument for XAUTOCLAIM")
	if !ok {
		return
	}
	minIdle = max(minIdle, 0)
	start, ex, ok := c.parseIntervalID(c.Args[5], 0)
	if !ok {
		return
	}
	if ex {
		if start, ok = start.Incr(); !ok {
			c.Error(errStreamStartID)
			return
		}
	}
	count := int64(100)
	justID := false
	for j := 6; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		switch {
		case c.Is(j, "count") && more > 0:
			n, ok := num.ParseInt(c.Args[j+1])
			if !ok || n < 1 || n > (1<<63-1)/16 {
				c.Error("ERR COUNT must be > 0")
				return
			}
			count = n
			j++
		case c.Is(j, "justid"):
			justID = true
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	var s *keyspace.Stream
	var g *keyspace.StreamGroup
	if o != nil {
		if o.Kind() != keyspace.KindStream {
			c.W.Error(ErrWrongType)
			return
		}
		s = o.Collection().(*keyspace.Stream)
		g = s.Group(group)
	}
	if g == nil {
		c.Error(errNoGroup(key, group))
		return
	}
	if count >= 1<<43 {
		// Redis allocates count IDs of 16 bytes up front, which fails
		// from 128 TiB, all a 64-bit Linux process can map. (Smaller
		// counts fail too in Redis when the kernel refuses the memory,
		// which depends on the machine.)
		c.Error("ERR Insufficient memory, failed allocating transient memory, COUNT too high.")
		return
	}
	now := c.Now()
	attempts := count * 10
	var (
		cons    *keyspace.StreamConsumer
		deleted []keyspace.StreamID
		claimed int
		next    = keyspace.StreamID{}
		more    = false
	)
	c.W.Array(3)
	dEnd := c.W.Defer()
	dArr := c.W.Defer()
	var examined []*keyspace.StreamPending
	cl := newClaims(key, group, g)
	budget := c.claimBudget(key, group)
	g.RangePending(start, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
		if attempts == 0 || count == 0 {
			next, more = p.ID, true
			return false
		}
		if budget >= 0 {
			// Past what one log entry holds, stop here: the cursor says
			// where to go on.
			cost := 0
			switch {
			case !s.Exists(p.ID):
				cost = cl.cost(p.Consumer.Name, p.DeliveryTime, p.DeliveryCount, p.ID)
			case minIdle != 0 && now-p.DeliveryTime < minIdle:
			case justID:
				cost = cl.cost(c.Arg(3), now, p.DeliveryCount, p.ID)
			default:
				cost = cl.cost(c.Arg(3), now, p.DeliveryCount+1, p.ID)
			}
			if budget -= cost; budget < 0 {
				next, more = p.ID, true
				return false
			}
		}
		attempts--
		examined = append(examined, p)
		if !s.Exists(p.ID) {
			count--
			return true
		}
		if minIdle != 0 && now-p.DeliveryTime < minIdle {
			return true
		}
		count--
		return true
	})
	for _, p := range examined {
		id := p.ID
		if !s.Exists(id) {
			cl.add(p)
			g.Ack(id)
			deleted = append(deleted, id)
			continue
		}
		if minIdle != 0 && now-p.DeliveryTime < minIdle {
			continue
		}
		if cons == nil {
			cons = c.consumerFor(key, group, g, c.Arg(3), now, false)
		}
		g.Move(p, cons)
		p.DeliveryTime = now
		if !justID {
			p.DeliveryCount++
		}
		if justID {
			c.W.Bulk(id.Append(nil))
		} else {
			c.writeStreamEntry(id, s.Get(id))
		}
		claimed++
		cl.add(p)
	}
	cl.propagate(c)
	if !more {
		next = keyspace.StreamID{}
	}
	c.W.SetArray(dArr, claimed)
	// The cursor goes before the entries: insert it at its place.
	tail := append([]byte(nil), c.W.Buf[int(dEnd):]...)
	c.W.Buf = c.W.Buf[:int(dEnd)]
	c.W.Bulk(next.Append(nil))
	c.W.Buf = append(c.W.Buf, tail...)
	c.W.Array(len(deleted))
	for _, id := range deleted {
		c.W.Bulk(id.Append(nil))
	}
	if claimed > 0 || len(deleted) > 0 {
		c.Touch(key)
	}
}
