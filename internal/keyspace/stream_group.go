package keyspace

import (
	"sort"
	"strings"
)

// Consumer groups, as Redis 7.0 keeps them: a group has a last delivered
// ID, an entries-read counter, a pending entries list (PEL: ID -> consumer,
// last delivery time, delivery count) and consumers, each with a seen time
// and its own PEL sharing the group's pending entries. Groups, consumers
// and PELs are kept sorted (Redis's radix trees, in byte order).

// StreamGroup is a consumer group.
type StreamGroup struct {
	Name        string
	LastID      StreamID
	EntriesRead int64 // EntriesReadInvalid when unknown
	pel         []*StreamPending
	consumers   []*StreamConsumer
}

// StreamPending is a pending entry: delivered and not acknowledged.
type StreamPending struct {
	ID            StreamID
	Consumer      *StreamConsumer
	DeliveryTime  int64 // unix ms
	DeliveryCount uint64
}

// StreamConsumer is a consumer of a group.
type StreamConsumer struct {
	Name     string
	SeenTime int64 // unix ms
	pel      []*StreamPending
}

// Groups returns the consumer groups in name order; the caller must not
// modify the slice.
func (s *Stream) Groups() []*StreamGroup { return s.groups }

func (s *Stream) groupIndex(name string) (int, bool) {
	i := sort.Search(len(s.groups), func(i int) bool { return s.groups[i].Name >= name })
	return i, i < len(s.groups) && s.groups[i].Name == name
}

// Group returns the group called name, or nil.
func (s *Stream) Group(name string) *StreamGroup {
	if i, ok := s.groupIndex(name); ok {
		return s.groups[i]
	}
	return nil
}

// CreateGroup adds a group; it returns nil when one has that name.
func (s *Stream) CreateGroup(name string, lastID StreamID, entriesRead int64) *StreamGroup {
	i, ok := s.groupIndex(name)
	if ok {
		return nil
	}
	g := &StreamGroup{Name: strings.Clone(name), LastID: lastID, EntriesRead: entriesRead}
	s.groups = append(s.groups, nil)
	copy(s.groups[i+1:], s.groups[i:])
	s.groups[i] = g
	return g
}

// DestroyGroup removes a group and reports whether it existed.
func (s *Stream) DestroyGroup(name string) bool {
	i, ok := s.groupIndex(name)
	if ok {
		s.groups = append(s.groups[:i], s.groups[i+1:]...)
	}
	return ok
}

func (g *StreamGroup) clone() *StreamGroup {
	n := &StreamGroup{Name: g.Name, LastID: g.LastID, EntriesRead: g.EntriesRead}
	byOld := make(map[*StreamPending]*StreamPending, len(g.pel))
	n.pel = make([]*StreamPending, len(g.pel))
	for i, p := range g.pel {
		c := *p
		n.pel[i] = &c
		byOld[p] = &c
	}
	n.consumers = make([]*StreamConsumer, len(g.consumers))
	for i, c := range g.consumers {
		nc := &StreamConsumer{Name: c.Name, SeenTime: c.SeenTime, pel: make([]*StreamPending, len(c.pel))}
		for j, p := range c.pel {
			np := byOld[p]
			np.Consumer = nc
			nc.pel[j] = np
		}
		n.consumers[i] = nc
	}
	return n
}

// Consumers returns the consumers in name order; the caller must not
// modify the slice.
func (g *StreamGroup) Consumers() []*StreamConsumer { return g.consumers }

func (g *StreamGroup) consumerIndex(name string) (int, bool) {
	i := sort.Search(len(g.consumers), func(i int) bool { return g.consumers[i].Name >= name })
	return i, i < len(g.consumers) && g.consumers[i].Name == name
}

// Consumer returns the consumer called name, or nil.
func (g *StreamGroup) Consumer(name string) *StreamConsumer {
	if i, ok := g.consumerIndex(name); ok {
		return g.consumers[i]
	}
	return nil
}

// CreateConsumer adds a consumer seen at seen (unix ms); it returns nil
// when one has that name.
func (g *StreamGroup) CreateConsumer(name string, seen int64) *StreamConsumer {
	i, ok := g.consumerIndex(name)
	if ok {
		return nil
	}
	c := &StreamConsumer{Name: strings.Clone(name), SeenTime: seen}
	g.consumers = append(g.consumers, nil)
	copy(g.consumers[i+1:], g.consumers[i:])
	g.consumers[i] = c
	return c
}

// DeleteConsumer removes a consumer and its pending entries from the
// group's PEL, returning how many it had pending (-1 when it does not
// exist).
func (g *StreamGroup) DeleteConsumer(name string) int {
	i, ok := g.consumerIndex(name)
	if !ok {
		return -1
	}
	c := g.consumers[i]
	for _, p := range c.pel {
		if j, ok := pelIndex(g.pel, p.ID); ok {
			g.pel = append(g.pel[:j], g.pel[j+1:]...)
		}
	}
	g.consumers = append(g.consumers[:i], g.consumers[i+1:]...)
	return len(c.pel)
}

func pelIndex(pel []*StreamPending, id StreamID) (int, bool) {
	i := sort.Search(len(pel), func(i int) bool { return !pel[i].ID.Less(id) })
	return i, i < len(pel) && pel[i].ID == id
}

func pelInsert(pel []*StreamPending, p *StreamPending) []*StreamPending {
	if n := len(pel); n == 0 || pel[n-1].ID.Less(p.ID) {
		return append(pel, p)
	}
	i, _ := pelIndex(pel, p.ID)
	pel = append(pel, nil)
	copy(pel[i+1:], pel[i:])
	pel[i] = p
	return pel
}

func pelRemove(pel []*StreamPending, id StreamID) []*StreamPending {
	if i, ok := pelIndex(pel, id); ok {
		return append(pel[:i], pel[i+1:]...)
	}
	return pel
}

// pelRange calls fn for the entries of pel with start <= ID <= end.
func pelRange(pel []*StreamPending, start, end StreamID, fn func(p *StreamPending) bool) {
	i, _ := pelIndex(pel, start)
	for ; i < len(pel) && !end.Less(pel[i].ID); i++ {
		if !fn(pel[i]) {
			return
		}
	}
}

// PendingLen returns the number of pending entries.
func (g *StreamGroup) PendingLen() int { return len(g.pel) }

// Pending returns the pending entry id, or nil.
func (g *StreamGroup) Pending(id StreamID) *StreamPending {
	if i, ok := pelIndex(g.pel, id); ok {
		return g.pel[i]
	}
	return nil
}

// RangePending calls fn for the pending entries with start <= ID <= end in
// order until it returns false; fn must not modify the group.
func (g *StreamGroup) RangePending(start, end StreamID, fn func(p *StreamPending) bool) {
	pelRange(g.pel, start, end, fn)
}

// AddPending adds a pending entry owned by c, replacing none: the caller
// checked that id is not pending.
func (g *StreamGroup) AddPending(id StreamID, c *StreamConsumer, deliveryTime int64, deliveryCount uint64) *StreamPending {
	p := &StreamPending{ID: id, Consumer: c, DeliveryTime: deliveryTime, DeliveryCount: deliveryCount}
	g.pel = pelInsert(g.pel, p)
	c.pel = pelInsert(c.pel, p)
	return p
}

// Ack removes a pending entry and reports whether it was pending.
func (g *StreamGroup) Ack(id StreamID) bool {
	i, ok := pelIndex(g.pel, id)
	if !ok {
		return false
	}
	p := g.pel[i]
	g.pel = append(g.pel[:i], g.pel[i+1:]...)
	p.Consumer.pel = pelRemove(p.Consumer.pel, id)
	return true
}

// Move gives a pending entry to consumer c.
func (g *StreamGroup) Move(p *StreamPending, c *StreamConsumer) {
	if p.Consumer == c {
		return
	}
	p.Consumer.pel = pelRemove(p.Consumer.pel, p.ID)
	p.Consumer = c
	c.pel = pelInsert(c.pel, p)
}

// PendingLen returns the number of the consumer's pending entries.
func (c *StreamConsumer) PendingLen() int { return len(c.pel) }

// RangePending calls fn for the consumer's pending entries with start <=
// ID <= end in order until it returns false; fn must not modify the group.
func (c *StreamConsumer) RangePending(start, end StreamID, fn func(p *StreamPending) bool) {
	pelRange(c.pel, start, end, fn)
}

// LoadConsumerPending gives the group's pending entry id to c while a
// loader rebuilds the group: false when id is not in the group's PEL or
// already in a consumer's.
func (g *StreamGroup) LoadConsumerPending(c *StreamConsumer, id StreamID) bool {
	p := g.Pending(id)
	if p == nil || p.Consumer != nil {
		return false
	}
	p.Consumer = c
	c.pel = pelInsert(c.pel, p)
	return true
}

// LoadPending adds a pending entry without a consumer while a loader
// rebuilds the group (LoadConsumerPending assigns it); false when id is
// pending already.
func (g *StreamGroup) LoadPending(id StreamID, deliveryTime int64, deliveryCount uint64) bool {
	if g.Pending(id) != nil {
		return false
	}
	g.pel = pelInsert(g.pel, &StreamPending{ID: id, DeliveryTime: deliveryTime, DeliveryCount: deliveryCount})
	return true
}

// Orphans reports whether a pending entry has no consumer (a loaded group
// whose consumers did not claim every entry).
func (g *StreamGroup) Orphans() bool {
	for _, p := range g.pel {
		if p.Consumer == nil {
			return true
		}
	}
	return false
}
