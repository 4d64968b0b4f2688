package rdb

import (
	"encoding/binary"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// Streams in RDB: the encoder writes RDB_TYPE_STREAM_LISTPACKS_2 (19), as
// redis-server 7.0 does: the nodes (master ID as 16 big-endian bytes, then
// the listpack as it is), the length, last ID, first ID, max deleted ID and
// entries-added, then each consumer group with its last ID, entries-read,
// PEL (ID, delivery time, delivery count) and consumers (name, seen time,
// the IDs of their PEL). The decoder also reads RDB_TYPE_STREAM_LISTPACKS
// (15, Redis 5 and 6: no first ID, max deleted ID, entries-added or
// entries-read, which it derives as Redis does) and
// RDB_TYPE_STREAM_LISTPACKS_3 (21, Redis 7.2: consumers' active time, which
// 7.0's streams do not keep). Every listpack is checked as Redis's deep
// integrity check does before the keyspace takes it.

// writeStreamKey writes a stream key (which, unlike other collections,
// may be empty).
func (e *Encoder) writeStreamKey(key string, s *keyspace.Stream, expire int64) error {
	if !e.startKey(key, typeStreamListpacks2, expire) {
		return e.err
	}
	e.writeStream(s)
	return e.err
}

// writeRawID writes an ID as 16 big-endian bytes.
func (e *Encoder) writeRawID(id keyspace.StreamID) {
	k := id.Key()
	e.writeRaw(k[:])
}

// writeMillis writes a millisecond time as 8 little-endian bytes.
func (e *Encoder) writeMillis(ms int64) {
	b := e.small[:8]
	binary.LittleEndian.PutUint64(b, uint64(ms))
	e.writeRaw(b)
}

// writeStream writes a stream's value.
func (e *Encoder) writeStream(s *keyspace.Stream) {
	e.writeLen(uint64(s.NodeCount()))
	s.EachNode(func(master keyspace.StreamID, lp []byte) bool {
		e.writeLen(16)
		e.writeRawID(master)
		e.writeLen(uint64(len(lp)))
		e.writeRaw(lp)
		return e.err == nil
	})
	m := s.Meta()
	e.writeLen(m.Length)
	e.writeLen(m.LastID.Ms)
	e.writeLen(m.LastID.Seq)
	e.writeLen(m.FirstID.Ms)
	e.writeLen(m.FirstID.Seq)
	e.writeLen(m.MaxDeletedID.Ms)
	e.writeLen(m.MaxDeletedID.Seq)
	e.writeLen(m.EntriesAdded)
	e.writeLen(uint64(len(s.Groups())))
	for _, g := range s.Groups() {
		e.writeString([]byte(g.Name))
		e.writeLen(g.LastID.Ms)
		e.writeLen(g.LastID.Seq)
		e.writeLen(uint64(g.EntriesRead))
		e.writeLen(uint64(g.PendingLen()))
		g.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
			e.writeRawID(p.ID)
			e.writeMillis(p.DeliveryTime)
			e.writeLen(p.DeliveryCount)
			return e.err == nil
		})
		e.writeLen(uint64(len(g.Consumers())))
		for _, c := range g.Consumers() {
			e.writeString([]byte(c.Name))
			e.writeMillis(c.SeenTime)
			e.writeLen(uint64(c.PendingLen()))
			c.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
				e.writeRawID(p.ID)
				return e.err == nil
			})
		}
	}
}

// readRawID reads a 16-byte big-endian ID.
func (d *decoder) readRawID() (keyspace.StreamID, error) {
	p, err := d.r.next(16)
	if err != nil {
		return keyspace.StreamID{}, d.readErr(err)
	}
	return keyspace.StreamIDFromKey(p), nil
}

// readMillis reads an 8-byte little-endian millisecond time.
func (d *decoder) readMillis() (int64, error) {
	p, err := d.r.next(8)
	if err != nil {
		return 0, d.readErr(err)
	}
	return int64(binary.LittleEndian.Uint64(p)), nil
}

// readLenID reads an ID stored as two lengths.
func (d *decoder) readLenID() (keyspace.StreamID, error) {
	ms, err := d.readLen()
	if err != nil {
		return keyspace.StreamID{}, err
	}
	seq, err := d.readLen()
	return keyspace.StreamID{Ms: ms, Seq: seq}, err
}

// loadStream reads a stream of value type t (15, 19 or 21).
func (d *decoder) loadStream(t byte) (keyspace.Collection, error) {
	if t == typeStreamListpacks3 && d.meta.Version < 11 {
		return nil, d.corrupt(d.keyOff, "RDB type %d (stream) in an RDB version %d file", t, d.meta.Version)
	}
	s := keyspace.NewStream()
	nodes, err := d.readLen()
	if err != nil {
		return nil, err
	}
	for ; nodes > 0; nodes-- {
		off := d.r.offset()
		if d.a, err = d.readString(d.a[:0]); err != nil {
			return nil, err
		}
		if len(d.a) != 16 {
			return nil, d.corrupt(off, "stream node key of %d bytes, not a stream ID", len(d.a))
		}
		master := keyspace.StreamIDFromKey(d.a)
		off = d.r.offset()
		lp, err := d.readString(nil) // handed to the stream
		if err != nil {
			return nil, err
		}
		d.sanitized++
		if _, err := s.AddNode(master, lp); err != nil {
			// Redis takes a back-length that reads as the entry's length
			// though it is not encoded as it writes one; the keyspace
			// wants the canonical bytes.
			if !canonicalBacklens(lp) {
				return nil, d.corrupt(off, "stream node %s: %v", master, err)
			}
			if _, err := s.AddNode(master, lp); err != nil {
				return nil, d.corrupt(off, "stream node %s: %v", master, err)
			}
		}
	}
	off := d.r.offset()
	var m keyspace.StreamMeta
	if m.Length, err = d.readLen(); err != nil {
		return nil, err
	}
	if m.LastID, err = d.readLenID(); err != nil {
		return nil, err
	}
	if t == typeStreamListpacks {
		// Redis 7.0 derives what older versions did not store.
		m.FirstID = s.FirstLiveID()
		m.EntriesAdded = m.Length
	} else {
		if m.FirstID, err = d.readLenID(); err != nil {
			return nil, err
		}
		if m.MaxDeletedID, err = d.readLenID(); err != nil {
			return nil, err
		}
		if m.EntriesAdded, err = d.readLen(); err != nil {
			return nil, err
		}
	}
	if err := s.SetMeta(m); err != nil {
		return nil, d.corrupt(off, "%v", err)
	}
	groups, err := d.readLen()
	if err != nil {
		return nil, err
	}
	for ; groups > 0; groups-- {
		if err := d.loadStreamGroup(s, t); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// loadStreamGroup reads one consumer group of s.
func (d *decoder) loadStreamGroup(s *keyspace.Stream, t byte) error {
	off := d.r.offset()
	var err error
	if d.b, err = d.readString(d.b[:0]); err != nil {
		return err
	}
	name := string(d.b)
	last, err := d.readLenID()
	if err != nil {
		return err
	}
	read := s.EstimateDistance(last)
	if t != typeStreamListpacks {
		n, err := d.readLen()
		if err != nil {
			return err
		}
		read = int64(n)
	}
	g := s.CreateGroup(name, last, read)
	if g == nil {
		return d.corrupt(off, "duplicate consumer group %q", truncateKey(name))
	}
	pel, err := d.readLen()
	if err != nil {
		return err
	}
	for ; pel > 0; pel-- {
		off := d.r.offset()
		id, err := d.readRawID()
		if err != nil {
			return err
		}
		at, err := d.readMillis()
		if err != nil {
			return err
		}
		count, err := d.readLen()
		if err != nil {
			return err
		}
		if !g.LoadPending(id, at, count) {
			return d.corrupt(off, "duplicate pending entry %s in consumer group %q", id, truncateKey(name))
		}
	}
	consumers, err := d.readLen()
	if err != nil {
		return err
	}
	for ; consumers > 0; consumers-- {
		off := d.r.offset()
		if d.b, err = d.readString(d.b[:0]); err != nil {
			return err
		}
		seen, err := d.readMillis()
		if err != nil {
			return err
		}
		if t == typeStreamListpacks3 {
			if _, err := d.readMillis(); err != nil { // active time (7.2)
				return err
			}
		}
		c := g.CreateConsumer(string(d.b), seen)
		if c == nil {
			return d.corrupt(off, "duplicate consumer %q in consumer group %q", truncateKey(string(d.b)), truncateKey(name))
		}
		n, err := d.readLen()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			off := d.r.offset()
			id, err := d.readRawID()
			if err != nil {
				return err
			}
			if !g.LoadConsumerPending(c, id) {
				return d.corrupt(off, "consumer %q pending entry %s is not in its group's pending entries, or is another consumer's", truncateKey(c.Name), id)
			}
		}
	}
	if g.Orphans() {
		return d.corrupt(off, "consumer group %q has pending entries without a consumer", truncateKey(name))
	}
	return nil
}
