package command

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/ferrydb/ferry/internal/resp"
)

// Client-side caching (Redis's tracking.c): CLIENT TRACKING, CACHING,
// GETREDIR and TRACKINGINFO, and the invalidation messages. In the default
// mode the engine remembers, per key name (whatever the database, as
// Redis), the clients that read it; the first change of the key sends each
// of them an invalidation and forgets them. In BCAST mode a client names
// prefixes and gets, once per batch of commands, every changed key that
// starts with one of them. RESP3 clients get push messages; a RESP2 client
// redirects them to another connection subscribed to __redis__:invalidate.
// A replica tracks the same way: the master's effects invalidate what its
// readers cached.

// trackingChannel is the Pub/Sub channel RESP2 redirection uses.
const trackingChannel = "__redis__:invalidate"

// DefaultTrackingTableMaxKeys is Redis's tracking-table-max-keys.
const DefaultTrackingTableMaxKeys = 1000000

// clientTracking is one client's tracking state.
type clientTracking struct {
	on, bcast, optin, optout, noloop bool
	caching                          bool // CLIENT CACHING given for the next command
	brokenRedir                      bool
	redirect                         int64
	prefixes                         []string // BCAST prefixes, sorted
}

// tracking is the engine's tracking state.
type tracking struct {
	clients  int                           // clients with tracking on
	table    map[string]map[int64]struct{} // key -> ids of clients that read it
	items    int                           // ids in table
	maxKeys  int64                         // tracking-table-max-keys; 0: no limit
	prefixes map[string]*bcastPrefix       // BCAST prefixes
	dirty    bool                          // a bcastPrefix has keys to send
	pending  []*string                     // invalidations for the running client, after its reply (nil: flush)
	flushing bool                          // a flush sends one null instead of a key each
	expiring bool                          // the key deleted has expired (onExpire to onDelete)
	// served is the blocked client being served (block.go), the running
	// one meanwhile, as blocked.c makes it Redis's current_client.
	served *Client
	// quiet, with quietKey, is a list a blocked client is being served
	// from: Redis signals no change of it (the push that woke the client
	// did), unless the client also pushes onto it (BLMOVE l l).
	quiet    bool
	quietKey string
}

// bcastPrefix is a BCAST prefix: its clients and the keys changed since the
// last broadcast, each with the client that changed it last (for NOLOOP).
type bcastPrefix struct {
	clients map[*Client]struct{}
	keys    map[string]*Client
}

// Tracking reports whether cl has key tracking on: it may then receive
// invalidation messages at any time. The caller holds the lock.
func (cl *Client) Tracking() bool { return cl.trk.on }

// trackingActive reports whether a key change may concern a tracking client.
func (e *Engine) trackingActive() bool {
	return len(e.trk.table) > 0 || len(e.trk.prefixes) > 0
}

// enableTracking turns tracking on for cl with the given options.
func (e *Engine) enableTracking(cl *Client, redirect int64, opt clientTracking, prefixes []string) {
	t := &e.trk
	if !cl.trk.on {
		t.clients++
	}
	cl.trk.on = true
	cl.trk.brokenRedir, cl.trk.bcast, cl.trk.optin, cl.trk.optout, cl.trk.noloop = false, false, false, false, false
	cl.trk.redirect = redirect
	if t.table == nil {
		t.table = make(map[string]map[int64]struct{})
		t.prefixes = make(map[string]*bcastPrefix)
	}
	if opt.bcast {
		cl.trk.bcast = true
		if len(prefixes) == 0 {
			prefixes = []string{""}
		}
		for _, p := range prefixes {
			bp := t.prefixes[p]
			if bp == nil {
				bp = &bcastPrefix{clients: make(map[*Client]struct{}), keys: make(map[string]*Client)}
				t.prefixes[p] = bp
			}
			if _, ok := bp.clients[cl]; !ok {
				bp.clients[cl] = struct{}{}
				if !slices.Contains(cl.trk.prefixes, p) {
					cl.trk.prefixes = append(cl.trk.prefixes, p)
				}
			}
		}
		slices.Sort(cl.trk.prefixes)
	}
	cl.trk.optin, cl.trk.optout, cl.trk.noloop = opt.optin, opt.optout, opt.noloop
}

// disableTracking turns tracking off for cl. Its ids stay in the table and
// are dropped lazily, as in Redis.
func (e *Engine) disableTracking(cl *Client) {
	t := &e.trk
	for _, p := range cl.trk.prefixes {
		if bp := t.prefixes[p]; bp != nil {
			delete(bp.clients, cl)
			if len(bp.clients) == 0 {
				delete(t.prefixes, p)
			}
		}
	}
	if cl.trk.on {
		t.clients--
	}
	cl.trk = clientTracking{}
}

// trackRead remembers the keys a read-only command read for the client
// that ran it, or, inside a script, the keys its caller declared.
func (e *Engine) trackRead(cl *Client, cmd *Command, args [][]byte) {
	if cmd.Name == "eval_ro" || cmd.Name == "evalsha_ro" {
		return
	}
	if cl.lua {
		run := e.lua.run
		if run == nil || run.cmd == nil {
			return
		}
		cl, cmd, args = run.caller, run.cmd, run.args
	}
	tc := &cl.trk
	if !tc.on || tc.bcast || (tc.optin && !tc.caching) || (tc.optout && tc.caching) || cmd.Flags&PubSub != 0 {
		return
	}
	for _, k := range metaFor(cmd).keys(args) {
		key := string(args[k.pos])
		ids := e.trk.table[key]
		if ids == nil {
			ids = make(map[int64]struct{}, 1)
			e.trk.table[key] = ids
		}
		if _, ok := ids[cl.ID]; !ok {
			ids[cl.ID] = struct{}{}
			e.trk.items++
		}
	}
}

// trackingCurrent is the client whose command runs, as Redis's
// server.current_client: a blocked client while it is served, else e.cur
// (nil outside commands).
func (e *Engine) trackingCurrent() *Client {
	if e.trk.served != nil {
		return e.trk.served
	}
	return e.cur
}

// invalidateKey is Redis's trackingInvalidateKey: key changed (by the
// running client, if any). bcast also queues it for BCAST clients.
func (e *Engine) invalidateKey(key string, bcast bool) {
	t := &e.trk
	if t.flushing || (t.quiet && key == t.quietKey) {
		return
	}
	e.invalidateKeyBy(key, bcast, e.trackingCurrent())
}

// invalidateKeyBy invalidates key as changed by cur: a NOLOOP client is
// not told of its own changes, and is told of them, after its reply, by
// trackingAfterCommand or trackingServed. cur nil is a change of no client
// (a key evicted from the table).
func (e *Engine) invalidateKeyBy(key string, bcast bool, cur *Client) {
	t := &e.trk
	if bcast && len(t.prefixes) > 0 {
		// Redis remembers the client signalModifiedKey names: none for
		// an expired key, a script's own client in a script, so BCAST's
		// NOLOOP hides neither from the running client (the default
		// mode's NOLOOP, which looks at current_client, does).
		by := cur
		switch {
		case t.expiring:
			by = nil
		case e.lua != nil && e.lua.run != nil:
			by = e.lua.client
		}
		for p, bp := range t.prefixes {
			if strings.HasPrefix(key, p) {
				bp.keys[key] = by
				t.dirty = true
			}
		}
	}
	ids, ok := t.table[key]
	if !ok {
		return
	}
	delete(t.table, key)
	t.items -= len(ids)
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		target := e.clients[id]
		if target == nil || !target.trk.on || target.trk.bcast {
			continue
		}
		if target.trk.noloop && target == cur {
			continue
		}
		if target == cur {
			k := key
			t.pending = append(t.pending, &k)
			continue
		}
		e.sendTracking(target, keyArray([]string{key}))
	}
}

// keyArray is the RESP array of keys an invalidation message carries.
func keyArray(keys []string) []byte {
	w := resp.Writer{Proto: 2}
	w.Array(len(keys))
	for _, k := range keys {
		w.BulkString(k)
	}
	return w.Buf
}

// nullFor is the RESP null a flush's invalidation carries, in the tracking
// client's protocol (as Redis, even when it redirects).
func nullFor(cl *Client) []byte {
	if cl.W.Proto == 3 {
		return []byte("_\r\n")
	}
	return []byte("$-1\r\n")
}

// sendTracking sends an invalidation message whose value is payload (RESP)
// to cl, or to the client it redirects to: a push message in RESP3, a
// message on __redis__:invalidate to a redirect target subscribed in RESP2,
// nothing otherwise.
func (e *Engine) sendTracking(cl *Client, payload []byte) {
	target, redirected := cl, false
	if cl.trk.redirect != 0 {
		r := e.clients[cl.trk.redirect]
		if r == nil {
			cl.trk.brokenRedir = true
			if cl.W.Proto == 3 {
				w := resp.Writer{Proto: 3}
				w.Push(2)
				w.BulkString("tracking-redir-broken")
				w.Int(cl.trk.redirect)
				e.deliver(cl, w.Buf)
			}
			return
		}
		target, redirected = r, true
	}
	w := resp.Writer{Proto: target.W.Proto}
	switch {
	case target.W.Proto == 3:
		w.Push(2)
		w.BulkString("invalidate")
	case redirected && target.SubCount() > 0:
		w.Array(3)
		w.BulkString("message")
		w.BulkString(trackingChannel)
	default:
		return
	}
	w.Raw(payload)
	e.deliver(target, w.Buf)
}

// trackingFlush is Redis's trackingInvalidateKeysOnFlush: every tracking
// client gets a null (the running one after its reply), and the table is
// emptied.
func (e *Engine) trackingFlush() {
	t := &e.trk
	if t.clients > 0 {
		for _, id := range slices.Sorted(maps.Keys(e.clients)) {
			cl := e.clients[id]
			if cl == nil || !cl.trk.on {
				continue // or disconnected by an earlier message's output
			}
			if cl == e.trackingCurrent() {
				t.pending = append(t.pending, nil)
				continue
			}
			e.sendTracking(cl, nullFor(cl))
		}
	}
	if t.table != nil {
		t.table = make(map[string]map[int64]struct{})
		t.items = 0
	}
}

// trackingAfterCommand runs after a top-level command of cl (Redis's
// afterCommand and resetClient): the invalidations cl caused for itself
// follow its reply, and CLIENT CACHING lasts one command or transaction.
// The keys evicted for tracking-table-max-keys follow them (Redis evicts
// before the next command or in serverCron).
func (e *Engine) trackingAfterCommand(cl *Client, args [][]byte) {
	t := &e.trk
	e.sendPending(cl)
	if t.maxKeys > 0 && int64(len(t.table)) > t.maxKeys {
		e.trackingLimit()
	}
	if cl.trk.caching && cl.multi == nil && !strings.EqualFold(string(args[0]), "client") {
		cl.trk.caching = false
	}
}

// sendPending sends cl the invalidations its command caused itself, held
// until its reply was written (Redis's
// trackingHandlePendingKeyInvalidations).
func (e *Engine) sendPending(cl *Client) {
	t := &e.trk
	if len(t.pending) == 0 {
		return
	}
	pending := t.pending
	t.pending = nil
	if e.clients[cl.ID] != cl {
		return // disconnected meanwhile
	}
	for _, k := range pending {
		if k == nil {
			e.sendTracking(cl, nullFor(cl))
		} else {
			e.sendTracking(cl, keyArray([]string{*k}))
		}
	}
}

// trackingServing makes cl, a blocked client about to be served from the
// key bs.ready, the running client for tracking until trackingServed, as
// Redis's blocked.c makes it server.current_client: its own changes reach
// it after its reply, and NOLOOP leaves them out. A list it pops from is
// quiet meanwhile (serveClientBlockedOnList signals no change of it),
// unless the command also pushes onto it.
func (e *Engine) trackingServing(cl *Client, bs *blockState) {
	t := &e.trk
	t.served = cl
	t.quiet = bs.cmd != nil && bs.cmd.Group == "list" &&
		!((bs.cmd.Name == "blmove" || bs.cmd.Name == "brpoplpush") && string(bs.args[2]) == bs.ready)
	t.quietKey = bs.ready
}

// trackingServed ends trackingServing: cl gets the invalidations it
// caused itself, after its reply when it was served (a retry that did not
// serve it may still have deleted an expired key).
func (e *Engine) trackingServed(cl *Client) {
	e.trk.served, e.trk.quiet, e.trk.quietKey = nil, false, ""
	e.sendPending(cl)
}

// trackingLimit evicts keys from the table, as if they changed, until it
// holds at most tracking-table-max-keys. An eviction is no client's
// change: NOLOOP does not hide it (Redis's trackingLimitUsedSlots).
func (e *Engine) trackingLimit() {
	t := &e.trk
	for key := range t.table {
		if int64(len(t.table)) <= t.maxKeys {
			return
		}
		e.invalidateKeyBy(key, false, nil)
	}
}

// trackingBroadcast sends BCAST clients the keys changed under their
// prefixes since the last broadcast (Redis does it before sleeping; ferry
// when it releases the engine lock after a batch).
func (e *Engine) trackingBroadcast() {
	t := &e.trk
	t.dirty = false
	for _, p := range slices.Sorted(maps.Keys(t.prefixes)) {
		bp := t.prefixes[p]
		if bp == nil || len(bp.keys) == 0 {
			continue // nil: its clients were disconnected for their output
		}
		keys := slices.Sorted(maps.Keys(bp.keys))
		all := keyArray(keys)
		for _, cl := range slices.SortedFunc(maps.Keys(bp.clients), byID) {
			if !cl.trk.on {
				continue // disconnected by an earlier message's output
			}
			if !cl.trk.noloop {
				e.sendTracking(cl, all)
				continue
			}
			var own []string
			for _, k := range keys {
				if bp.keys[k] != cl {
					own = append(own, k)
				}
			}
			if len(own) > 0 {
				e.sendTracking(cl, keyArray(own))
			}
		}
		bp.keys = make(map[string]*Client)
	}
}

// byID orders clients by id.
func byID(a, b *Client) int { return cmp.Compare(a.ID, b.ID) }

// clientTrackingCmd is CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST]
// [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP].
func clientTrackingCmd(c *Ctx) {
	var (
		redir    int64
		opt      clientTracking
		prefixes []string
	)
	args := c.Args
	for j := 3; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case c.Is(j, "redirect") && more > 0:
			j++
			if redir != 0 {
				c.W.Error("ERR A client can only redirect to a single other client")
				return
			}
			n, ok := c.Int(j)
			if !ok {
				return
			}
			redir = n
			if c.e.clients[redir] == nil {
				c.W.Error("ERR The client ID you want redirect to does not exist")
				return
			}
		case c.Is(j, "bcast"):
			opt.bcast = true
		case c.Is(j, "optin"):
			opt.optin = true
		case c.Is(j, "optout"):
			opt.optout = true
		case c.Is(j, "noloop"):
			opt.noloop = true
		case c.Is(j, "prefix") && more > 0:
			j++
			prefixes = append(prefixes, string(args[j]))
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	cl := c.Client
	switch {
	case c.Is(2, "on"):
		switch {
		case !opt.bcast && len(prefixes) > 0:
			c.W.Error("ERR PREFIX option requires BCAST mode to be enabled")
			return
		case cl.trk.on && cl.trk.bcast != opt.bcast:
			c.W.Error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		case opt.bcast && (opt.optin || opt.optout):
			c.W.Error("ERR OPTIN and OPTOUT are not compatible with BCAST")
			return
		case opt.optin && opt.optout:
			c.W.Error("ERR You can't specify both OPTIN mode and OPTOUT mode")
			return
		case (opt.optin && cl.trk.optout) || (opt.optout && cl.trk.optin):
			c.W.Error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		}
		if opt.bcast && !checkPrefixes(c, prefixes) {
			return
		}
		c.e.enableTracking(cl, redir, opt, prefixes)
	case c.Is(2, "off"):
		c.e.disableTracking(cl)
	default:
		c.W.Error(ErrSyntax)
		return
	}
	c.W.OK()
}

// checkPrefixes replies an error, and reports false, when two of the new
// prefixes, or a new one and one the client has, overlap (one starts the
// other).
func checkPrefixes(c *Ctx, prefixes []string) bool {
	overlap := func(a, b string) bool {
		n := min(len(a), len(b))
		return a[:n] == b[:n]
	}
	for i, p := range prefixes {
		for _, old := range c.Client.trk.prefixes {
			if overlap(old, p) {
				c.W.Error("ERR Prefix '" + cString(p) + "' overlaps with an existing prefix '" + cString(old) + "'. Prefixes for a single client must not overlap.")
				return false
			}
		}
		for _, q := range prefixes[i+1:] {
			if overlap(p, q) {
				// Redis's checkPrefixCollisionsOrReply returns i here,
				// which reads as success past the first prefix: the
				// error is sent, then tracking is enabled all the same
				// (and replies OK), the prefixes left unchecked.
				c.W.Error("ERR Prefix '" + cString(p) + "' overlaps with another provided prefix '" + cString(q) + "'. Prefixes for a single client must not overlap.")
				return i > 0
			}
		}
	}
	return true
}

// cString is s as C's %s prints it: up to its first NUL byte.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// clientCachingCmd is CLIENT CACHING YES|NO.
func clientCachingCmd(c *Ctx) {
	cl := c.Client
	if !cl.trk.on {
		c.W.Error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
		return
	}
	switch {
	case c.Is(2, "yes"):
		if !cl.trk.optin {
			c.W.Error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
	case c.Is(2, "no"):
		if !cl.trk.optout {
			c.W.Error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
	default:
		c.W.Error(ErrSyntax)
		return
	}
	cl.trk.caching = true
	c.W.OK()
}

func clientGetredirCmd(c *Ctx) {
	if c.Client.trk.on {
		c.W.Int(c.Client.trk.redirect)
		return
	}
	c.W.Int(-1)
}

func clientTrackinginfoCmd(c *Ctx) {
	tc := &c.Client.trk
	flags := []string{"off"}
	if tc.on {
		flags[0] = "on"
	}
	if tc.bcast {
		flags = append(flags, "bcast")
	}
	if tc.optin {
		flags = append(flags, "optin")
		if tc.caching {
			flags = append(flags, "caching-yes")
		}
	}
	if tc.optout {
		flags = append(flags, "optout")
		if tc.caching {
			flags = append(flags, "caching-no")
		}
	}
	if tc.noloop {
		flags = append(flags, "noloop")
	}
	if tc.brokenRedir {
		flags = append(flags, "broken_redirect")
	}
	c.W.Map(3)
	c.W.BulkString("flags")
	c.W.Set(len(flags))
	for _, f := range flags {
		c.W.BulkString(f)
	}
	c.W.BulkString("redirect")
	if tc.on {
		c.W.Int(tc.redirect)
	} else {
		c.W.Int(-1)
	}
	c.W.BulkString("prefixes")
	c.W.Array(len(tc.prefixes))
	for _, p := range tc.prefixes {
		c.W.BulkString(p)
	}
}
