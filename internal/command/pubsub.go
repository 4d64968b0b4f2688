package command

import (
	"sort"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/resp"
)

// Pub/Sub on this node: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
// PUBLISH and PUBSUB. Messages to other clients go through their
// asynchronous output (Client.Push), in the order PUBLISH ran.

func registerPubSub(t *Table) {
	f := PubSub | NoScript | Loading | Stale | SubContext
	t.Add(
		&Command{Name: "subscribe", Arity: -2, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Listens for messages published to channels.", ACL: []string{"pubsub", "slow"}, Handler: subscribeCmd},
		&Command{Name: "unsubscribe", Arity: -1, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Stops listening to messages posted to channels.", ACL: []string{"pubsub", "slow"}, Handler: unsubscribeCmd},
		&Command{Name: "psubscribe", Arity: -2, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Listens for messages published to channels that match one or more patterns.", ACL: []string{"pubsub", "slow"}, Handler: psubscribeCmd},
		&Command{Name: "punsubscribe", Arity: -1, Flags: f, Group: "pubsub", Since: "2.0.0", Summary: "Stops listening to messages published to channels that match one or more patterns.", ACL: []string{"pubsub", "slow"}, Handler: punsubscribeCmd},
		&Command{Name: "publish", Arity: 3, Flags: PubSub | Loading | Stale | Fast, Group: "pubsub", Since: "2.0.0", Summary: "Posts a message to a channel.", ACL: []string{"pubsub", "fast"}, Handler: publishCmd},
		&Command{Name: "pubsub", Arity: -2, Group: "pubsub", Since: "2.8.0", Summary: "A container for Pub/Sub commands.", ACL: []string{"slow"}},
		&Command{Name: "pubsub|channels", Arity: -2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "2.8.0", Summary: "Returns the active channels.", ACL: []string{"pubsub", "slow"}, Handler: pubsubChannelsCmd},
		&Command{Name: "pubsub|numsub", Arity: -2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "2.8.0", Summary: "Returns a count of subscribers to channels.", ACL: []string{"pubsub", "slow"}, Handler: pubsubNumsubCmd},
		&Command{Name: "pubsub|numpat", Arity: 2, Flags: PubSub | Loading | Stale, Group: "pubsub", Since: "2.8.0", Summary: "Returns a count of unique pattern subscriptions.", ACL: []string{"pubsub", "slow"}, Handler: pubsubNumpatCmd},
		&Command{Name: "pubsub|help", Arity: 2, Flags: Loading | Stale, Group: "pubsub", Since: "6.2.0", Summary: "Returns helpful text about the different subcommands.", ACL: []string{"slow"}, Handler: pubsubHelpCmd},
	)
}

// subReply writes a (un)subscribe confirmation: kind, channel (or null), count.
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

func subscribeCmd(c *Ctx) {
	cl := c.Client
	for _, a := range c.Args[1:] {
		ch := string(a)
		if cl.subs == nil {
			cl.subs = make(map[string]struct{})
		}
		if _, ok := cl.subs[ch]; !ok {
			cl.subs[ch] = struct{}{}
			m := c.e.channels[ch]
			if m == nil {
				m = make(map[*Client]struct{})
				c.e.channels[ch] = m
			}
			m[cl] = struct{}{}
		}
		subReply(c.W, "subscribe", a, cl.SubCount())
	}
}

func psubscribeCmd(c *Ctx) {
	cl := c.Client
	for _, a := range c.Args[1:] {
		p := string(a)
		if cl.psubs == nil {
			cl.psubs = make(map[string]struct{})
		}
		if _, ok := cl.psubs[p]; !ok {
			cl.psubs[p] = struct{}{}
			m := c.e.patterns[p]
			if m == nil {
				m = make(map[*Client]struct{})
				c.e.patterns[p] = m
			}
			m[cl] = struct{}{}
		}
		subReply(c.W, "psubscribe", a, cl.SubCount())
	}
}

func unsubscribeCmd(c *Ctx) {
	cl := c.Client
	if len(c.Args) == 1 {
		if len(cl.subs) == 0 {
			subReply(c.W, "unsubscribe", nil, cl.SubCount())
			return
		}
		for _, ch := range sortedKeys(cl.subs) {
			c.e.unsubscribe(cl, ch)
			subReply(c.W, "unsubscribe", []byte(ch), cl.SubCount())
		}
		return
	}
	for _, a := range c.Args[1:] {
		c.e.unsubscribe(cl, string(a))
		subReply(c.W, "unsubscribe", a, cl.SubCount())
	}
}

func punsubscribeCmd(c *Ctx) {
	cl := c.Client
	if len(c.Args) == 1 {
		if len(cl.psubs) == 0 {
			subReply(c.W, "punsubscribe", nil, cl.SubCount())
			return
		}
		for _, p := range sortedKeys(cl.psubs) {
			c.e.punsubscribe(cl, p)
			subReply(c.W, "punsubscribe", []byte(p), cl.SubCount())
		}
		return
	}
	for _, a := range c.Args[1:] {
		c.e.punsubscribe(cl, string(a))
		subReply(c.W, "punsubscribe", a, cl.SubCount())
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

func (e *Engine) unsubscribe(cl *Client, ch string) {
	if _, ok := cl.subs[ch]; !ok {
		return
	}
	delete(cl.subs, ch)
	if m := e.channels[ch]; m != nil {
		delete(m, cl)
		if len(m) == 0 {
			delete(e.channels, ch)
		}
	}
}

func (e *Engine) punsubscribe(cl *Client, p string) {
	if _, ok := cl.psubs[p]; !ok {
		return
	}
	delete(cl.psubs, p)
	if m := e.patterns[p]; m != nil {
		delete(m, cl)
		if len(m) == 0 {
			delete(e.patterns, p)
		}
	}
}

// unsubscribeAll drops every subscription of cl (disconnect or RESET).
func (e *Engine) unsubscribeAll(cl *Client, notify bool) {
	for ch := range cl.subs {
		e.unsubscribe(cl, ch)
	}
	for p := range cl.psubs {
		e.punsubscribe(cl, p)
	}
}

func publishCmd(c *Ctx) {
	c.W.Int(int64(c.e.Publish(c.Args[1], c.Args[2])))
}

// Publish delivers message to the subscribers of channel and of matching
// patterns, and returns how many received it. The caller holds the lock.
func (e *Engine) Publish(channel, message []byte) int {
	n := 0
	var b2, b3 []byte
	msg := func(cl *Client) []byte {
		if cl.W.Proto == 3 {
			if b3 == nil {
				b3 = pushMessage(3, "message", nil, channel, message)
			}
			return b3
		}
		if b2 == nil {
			b2 = pushMessage(2, "message", nil, channel, message)
		}
		return b2
	}
	for cl := range e.channels[string(channel)] {
		cl.Push(msg(cl))
		n++
	}
	for p, subs := range e.patterns {
		if !glob.Match(p, view(channel)) {
			continue
		}
		var p2, p3 []byte
		for cl := range subs {
			var b []byte
			if cl.W.Proto == 3 {
				if p3 == nil {
					p3 = pushMessage(3, "pmessage", []byte(p), channel, message)
				}
				b = p3
			} else {
				if p2 == nil {
					p2 = pushMessage(2, "pmessage", []byte(p), channel, message)
				}
				b = p2
			}
			cl.Push(b)
			n++
		}
	}
	return n
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

func pubsubChannelsCmd(c *Ctx) {
	var out []string
	for ch := range c.e.channels {
		if len(c.Args) > 2 && !glob.Match(c.Arg(2), ch) {
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

func pubsubNumsubCmd(c *Ctx) {
	c.W.Map(len(c.Args) - 2)
	for _, a := range c.Args[2:] {
		c.W.Bulk(a)
		c.W.Int(int64(len(c.e.channels[string(a)])))
	}
}

func pubsubNumpatCmd(c *Ctx) { c.W.Int(int64(len(c.e.patterns))) }

func pubsubHelpCmd(c *Ctx) {
	helpReply(c, "PUBSUB",
		"CHANNELS [<pattern>]", "    List the active channels, optionally only those matching <pattern>.",
		"NUMPAT", "    Count the pattern subscriptions.",
		"NUMSUB [<channel> ...]", "    Count the subscribers of each channel (patterns excluded).",
	)
}
