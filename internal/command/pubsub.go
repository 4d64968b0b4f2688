package command

import (
	"sort"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/resp"
)

// Pub/Sub on this node, after Redis 7.0's pubsub.c: SUBSCRIBE, UNSUBSCRIBE,
// PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, the sharded SSUBSCRIBE, SUNSUBSCRIBE
// and SPUBLISH (which, without a cluster, behave as a separate set of
// channels), and PUBSUB. Messages go to the subscribers' output in the
// order PUBLISH ran; a subscriber's own replies keep their place among them.
//
// Where Redis walks a hash table (UNSUBSCRIBE and SUNSUBSCRIBE without
// arguments, PUBSUB CHANNELS, the patterns matching one PUBLISH) its order
// depends on a random seed; ferry sorts or walks a Go map instead. Patterns
// are a list per client in Redis, so PUNSUBSCRIBE without arguments goes in
// subscription order, as here.

func registerPubSub(t *Table) {
	f := PubSub | NoScript | Loading | Stale | SubContext
	t.Add(
		&Command{Name: "subscribe", Arity: -2, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Listen for messages published to the given channels", ACL: []string{"pubsub", "slow"}, Handler: subscribeCmd},
		&Command{Name: "unsubscribe", Arity: -1, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Stop listening for messages posted to the given channels", ACL: []string{"pubsub", "slow"}, Handler: unsubscribeCmd},
		&Command{Name: "psubscribe", Arity: -2, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Listen for messages published to channels matching the given patterns", ACL: []string{"pubsub", "slow"}, Handler: psubscribeCmd},
		&Command{Name: "punsubscribe", Arity: -1, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Stop listening for messages posted to channels matching the given patterns", ACL: []string{"pubsub", "slow"}, Handler: punsubscribeCmd},
		&Command{Name: "ssubscribe", Arity: -2, Flags: f, FirstKey: 1, LastKey: -1, Step: 1, Group: "pubsub", Since: "7.0.0", Summary: "Listen for messages published to the given shard channels", ACL: []string{"pubsub", "slow"}, Handler: ssubscribeCmd},
		&Command{Name: "sunsubscribe", Arity: -1, Flags: f, FirstKey: 1, LastKey: -1, Step: 1, Group: "pubsub", Since: "7.0.0", Summary: "Stop listening for messages posted to the given shard channels", ACL: []string{"pubsub", "slow"}, Handler: sunsubscribeCmd},
		&Command{Name: "publish", Arity: 3, Flags: PubSub | Loading | Stale | Fast | MayReplicate, Group: "pubsub", Since: "2.0.0", Summary: "Post a message to a channel", ACL: []string{"pubsub", "fast"}, Handler: publishCmd},
		&Command{Name: "spublish", Arity: 3, Flags: PubSub | Loading | Stale | Fast, FirstKey: 1, LastKey: 1, Step: 1, Group: "pubsub", Since: "7.0.0", Summary: "Post a message to a shard channel", ACL: []string{"pubsub", "fast"}, Handler: spublishCmd},
		&Command{Name: "pubsub", Arity: -2, Group: "pubsub", Since: "2.8.0", Summary: "A container for Pub/Sub commands", ACL: []string{"slow"}},
		&Command{Name: "pubsub|channels", Arity: -2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "2.8.0", Summary: "List active channels", ACL: []string{"pubsub", "slow"}, Handler: pubsubChannelsCmd},
		&Command{Name: "pubsub|numsub", Arity: -2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "2.8.0", Summary: "Get the count of subscribers for channels", ACL: []string{"pubsub", "slow"}, Handler: pubsubNumsubCmd},
		&Command{Name: "pubsub|numpat", Arity: 2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "2.8.0", Summary: "Get the count of unique patterns pattern subscriptions", ACL: []string{"pubsub", "slow"}, Handler: pubsubNumpatCmd},
		&Command{Name: "pubsub|shardchannels", Arity: -2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "7.0.0", Summary: "List active shard channels", ACL: []string{"pubsub", "slow"}, Handler: pubsubShardChannelsCmd},
		&Command{Name: "pubsub|shardnumsub", Arity: -2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "7.0.0", Summary: "Get the count of subscribers for shard channels", ACL: []string{"pubsub", "slow"}, Handler: pubsubShardNumsubCmd},
		&Command{Name: "pubsub|help", Arity: 2, Flags: Loading | Stale, Group: "pubsub", Since: "6.2.0", Summary: "Show helpful text about the different subcommands", ACL: []string{"slow"}, Handler: pubsubHelpCmd},
	)
}

// Subscription kinds: what a confirmation and a message are called.
type subKind struct {
	subscribe, unsubscribe, message string
}

var (
	plainKind = subKind{"subscribe", "unsubscribe", "message"}
	shardKind = subKind{"ssubscribe", "sunsubscribe", "smessage"}
)

// subCount is what a (un)subscribe confirmation reports: plain channels and
// patterns together, shard channels on their own.
func (cl *Client) subCount(k *subKind) int {
	if k == &shardKind {
		return len(cl.ssubs)
	}
	return len(cl.subs) + len(cl.psubs)
}

// subReply writes a (un)subscribe confirmation: kind, channel (or null),
// count. It is a push in RESP3.
func subReply(w *resp.Writer, kind string, channel []byte, count int) {
	w.Push(3)
	w.BulkString(kind)
	if channel == nil {
		w.Null()
	} else {
		w.Bulk(channel)
	}
	w.Int(int64(count))
}

// channelSets returns the client's channel set of kind k and the engine's
// index of subscribers, making them when asked to.
func (e *Engine) channelSets(cl *Client, k *subKind, create bool) (map[string]struct{}, map[string]map[*Client]struct{}) {
	if k == &shardKind {
		if create && cl.ssubs == nil {
			cl.ssubs = make(map[string]struct{})
		}
		if create && e.shards == nil {
			e.shards = make(map[string]map[*Client]struct{})
		}
		return cl.ssubs, e.shards
	}
	if create && cl.subs == nil {
		cl.subs = make(map[string]struct{})
	}
	return cl.subs, e.channels
}

func (e *Engine) subscribe(cl *Client, ch []byte, k *subKind) {
	mine, index := e.channelSets(cl, k, true)
	if _, ok := mine[string(ch)]; !ok {
		name := string(ch)
		mine[name] = struct{}{}
		m := index[name]
		if m == nil {
			m = make(map[*Client]struct{})
			index[name] = m
		}
		m[cl] = struct{}{}
	}
	subReply(&cl.W, k.subscribe, ch, cl.subCount(k))
}

// unsubscribe drops one channel of kind k, confirming when notify is set.
func (e *Engine) unsubscribe(cl *Client, ch []byte, k *subKind, notify bool) {
	mine, index := e.channelSets(cl, k, false)
	if _, ok := mine[string(ch)]; ok {
		delete(mine, string(ch))
		if m := index[string(ch)]; m != nil {
			delete(m, cl)
			if len(m) == 0 {
				delete(index, string(ch))
			}
		}
	}
	if notify {
		subReply(&cl.W, k.unsubscribe, ch, cl.subCount(k))
	}
}

// unsubscribeAllOf drops every channel of kind k; with notify it confirms
// each (sorted), or replies with a null channel when there was none.
func (e *Engine) unsubscribeAllOf(cl *Client, k *subKind, notify bool) {
	mine, _ := e.channelSets(cl, k, false)
	if len(mine) == 0 {
		if notify {
			subReply(&cl.W, k.unsubscribe, nil, cl.subCount(k))
		}
		return
	}
	for _, ch := range sortedKeys(mine) {
		e.unsubscribe(cl, []byte(ch), k, notify)
	}
}

func (e *Engine) psubscribe(cl *Client, p []byte) {
	if _, ok := cl.psubs[string(p)]; !ok {
		name := string(p)
		if cl.psubs == nil {
			cl.psubs = make(map[string]struct{})
		}
		cl.psubs[name] = struct{}{}
		cl.psubOrder = append(cl.psubOrder, name)
		m := e.patterns[name]
		if m == nil {
			m = make(map[*Client]struct{})
			e.patterns[name] = m
		}
		m[cl] = struct{}{}
	}
	subReply(&cl.W, "psubscribe", p, cl.subCount(&plainKind))
}

func (e *Engine) punsubscribe(cl *Client, p []byte, notify bool) {
	if _, ok := cl.psubs[string(p)]; ok {
		delete(cl.psubs, string(p))
		for i, q := range cl.psubOrder {
			if q == string(p) {
				cl.psubOrder = append(cl.psubOrder[:i], cl.psubOrder[i+1:]...)
				break
			}
		}
		if m := e.patterns[string(p)]; m != nil {
			delete(m, cl)
			if len(m) == 0 {
				delete(e.patterns, string(p))
			}
		}
	}
	if notify {
		subReply(&cl.W, "punsubscribe", p, cl.subCount(&plainKind))
	}
}

// punsubscribeAll drops every pattern in subscription order.
func (e *Engine) punsubscribeAll(cl *Client, notify bool) {
	if len(cl.psubOrder) == 0 {
		if notify {
			subReply(&cl.W, "punsubscribe", nil, cl.subCount(&plainKind))
		}
		return
	}
	for _, p := range append([]string(nil), cl.psubOrder...) {
		e.punsubscribe(cl, []byte(p), notify)
	}
}

// unsubscribeAll drops every subscription of cl (disconnect or RESET),
// confirming each when notify is set.
func (e *Engine) unsubscribeAll(cl *Client, notify bool) {
	if cl.SubCount() == 0 {
		return
	}
	e.unsubscribeAllOf(cl, &plainKind, notify)
	e.unsubscribeAllOf(cl, &shardKind, notify)
	e.punsubscribeAll(cl, notify)
}

func subscribeCmd(c *Ctx) {
	for _, a := range c.Args[1:] {
		c.e.subscribe(c.Client, a, &plainKind)
	}
}

func ssubscribeCmd(c *Ctx) {
	if c.e.inExec(c.Client) {
		// Unlike SUBSCRIBE, Redis keeps no exception for transactions.
		c.Error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
		return
	}
	for _, a := range c.Args[1:] {
		c.e.subscribe(c.Client, a, &shardKind)
	}
}

func psubscribeCmd(c *Ctx) {
	for _, a := range c.Args[1:] {
		c.e.psubscribe(c.Client, a)
	}
}

func unsubscribeCmd(c *Ctx)  { unsubscribeGeneric(c, &plainKind) }
func sunsubscribeCmd(c *Ctx) { unsubscribeGeneric(c, &shardKind) }

func unsubscribeGeneric(c *Ctx, k *subKind) {
	if len(c.Args) == 1 {
		c.e.unsubscribeAllOf(c.Client, k, true)
		return
	}
	for _, a := range c.Args[1:] {
		c.e.unsubscribe(c.Client, a, k, true)
	}
}

func punsubscribeCmd(c *Ctx) {
	if len(c.Args) == 1 {
		c.e.punsubscribeAll(c.Client, true)
		return
	}
	for _, a := range c.Args[1:] {
		c.e.punsubscribe(c.Client, a, true)
	}
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// publishCmd delivers the message and, as Redis does, propagates the
// command so that replicas deliver it to their own subscribers.
func publishCmd(c *Ctx) {
	n := c.e.Publish(c.Args[1], c.Args[2])
	c.Propagate()
	c.W.Int(int64(n))
}

func spublishCmd(c *Ctx) {
	n := c.e.publish(c.Args[1], c.Args[2], &shardKind)
	c.Propagate()
	c.W.Int(int64(n))
}

// Publish delivers message to the subscribers of channel and of matching
// patterns, and returns how many received it. The caller holds the lock.
func (e *Engine) Publish(channel, message []byte) int {
	return e.publish(channel, message, &plainKind)
}

func (e *Engine) publish(channel, message []byte, k *subKind) int {
	n := 0
	var b2, b3 []byte
	index := e.channels
	if k == &shardKind {
		index = e.shards
	}
	for cl := range index[string(channel)] {
		if cl.W.Proto == 3 {
			if b3 == nil {
				b3 = pushMessage(3, k.message, nil, channel, message)
			}
			e.deliver(cl, b3)
		} else {
			if b2 == nil {
				b2 = pushMessage(2, k.message, nil, channel, message)
			}
			e.deliver(cl, b2)
		}
		n++
	}
	if k == &shardKind || len(e.patterns) == 0 {
		return n
	}
	for p, subs := range e.patterns {
		if !glob.Match(p, view(channel)) {
			continue
		}
		var p2, p3 []byte
		for cl := range subs {
			if cl.W.Proto == 3 {
				if p3 == nil {
					p3 = pushMessage(3, "pmessage", []byte(p), channel, message)
				}
				e.deliver(cl, p3)
			} else {
				if p2 == nil {
					p2 = pushMessage(2, "pmessage", []byte(p), channel, message)
				}
				e.deliver(cl, p2)
			}
			n++
		}
	}
	return n
}

// deliver adds a message to cl's output. Replies cl has not handed to its
// connection yet (its own batch in progress, or a blocked command served
// by another client) come first, so the message goes after them in cl.W;
// otherwise it goes straight to the asynchronous output. A client over its
// output buffer limits (obuf.go) is disconnected. The caller holds the lock.
func (e *Engine) deliver(cl *Client, msg []byte) {
	// Behind the replies in W when the client's connection is not writing
	// W itself at this moment: it runs the command under way, waits
	// blocked, or has a writer goroutine. A client that writes its own
	// replies and is idle (a RESP3 redirect target) gets the message on
	// its asynchronous output, and its connection is nudged. A client
	// that is to close once its replies are written (QUIT, CLIENT KILL of
	// itself) gets nothing more, as Redis adds no reply to a client
	// flagged CLOSE_AFTER_REPLY.
	if cl.closeAfterReply {
		return
	}
	if e.ownsW(cl) && cl.W.Len() > 0 {
		cl.W.Raw(msg)
		e.CheckOutput(cl, cl.W.Len())
		return
	}
	cl.Push(msg)
	e.CheckOutput(cl, 0)
}

func pushMessage(proto int, kind string, pattern, channel, message []byte) []byte {
	w := resp.Writer{Proto: proto}
	if pattern != nil {
		w.Push(4)
		w.BulkString(kind)
		w.Bulk(pattern)
	} else {
		w.Push(3)
		w.BulkString(kind)
	}
	w.Bulk(channel)
	w.Bulk(message)
	return w.Buf
}

// subcommandSyntaxError is Redis's reply to a known subcommand with
// arguments it cannot take.
func subcommandSyntaxError(c *Ctx) {
	c.Error("ERR unknown subcommand or wrong number of arguments for '" + trunc(c.Arg(1), 128) + "'. Try " + upper(c.Arg(0)) + " HELP.")
}

func upper(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
	}
	return string(b)
}

func pubsubChannelsCmd(c *Ctx)      { channelList(c, c.e.channels) }
func pubsubShardChannelsCmd(c *Ctx) { channelList(c, c.e.shards) }

// channelList replies with the channels of index matching the optional
// pattern, sorted.
func channelList(c *Ctx, index map[string]map[*Client]struct{}) {
	if len(c.Args) > 3 {
		subcommandSyntaxError(c)
		return
	}
	var out []string
	for ch := range index {
		if len(c.Args) == 3 && !glob.Match(c.Arg(2), ch) {
			continue
		}
		out = append(out, ch)
	}
	sort.Strings(out)
	c.W.Array(len(out))
	for _, ch := range out {
		c.W.BulkString(ch)
	}
}

func pubsubNumsubCmd(c *Ctx)      { numsub(c, c.e.channels) }
func pubsubShardNumsubCmd(c *Ctx) { numsub(c, c.e.shards) }

// numsub replies with channel, count pairs: a flat array, in RESP3 too.
func numsub(c *Ctx, index map[string]map[*Client]struct{}) {
	c.W.Array(2 * (len(c.Args) - 2))
	for _, a := range c.Args[2:] {
		c.W.Bulk(a)
		c.W.Int(int64(len(index[string(a)])))
	}
}

func pubsubNumpatCmd(c *Ctx) { c.W.Int(int64(len(c.e.patterns))) }

func pubsubHelpCmd(c *Ctx) {
	helpReply(c, "PUBSUB",
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
	)
}
