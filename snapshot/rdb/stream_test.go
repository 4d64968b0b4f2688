package rdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

// streamOp is one stream operation, run both on a keyspace.Stream and,
// as a command, on a redis-server.
type streamOp struct {
	cmd   []string
	apply func(s *keyspace.Stream)
}

// streamOps returns n random operations on stream key: appends with the
// same or other fields, integer-like and long values, deletions and every
// kind of trim.
func streamOps(rng *rand.Rand, key string, n int) []streamOp {
	var ops []streamOp
	var live, all []keyspace.StreamID
	last := keyspace.StreamID{Ms: 1000}
	for i := 0; i < n; i++ {
		switch r := rng.IntN(100); {
		case r < 75:
			if rng.IntN(3) == 0 {
				last.Ms += uint64(rng.IntN(100000))
			}
			last.Seq += uint64(1 + rng.IntN(3))
			id := last
			var fv []string
			switch rng.IntN(4) {
			case 0:
				fv = []string{"field", strconv.Itoa(rng.IntN(100000) - 50000)}
			case 1:
				fv = []string{"field", strings.Repeat("v", rng.IntN(300)), "other", "x"}
			case 2:
				fv = []string{strconv.Itoa(rng.IntN(10)), "-0", "007", strconv.FormatInt(rng.Int64(), 10)}
			default:
				fv = []string{"field", strings.Repeat("w", rng.IntN(2000))}
			}
			args := append([]string{"XADD", key, id.String()}, fv...)
			b := make([][]byte, len(fv))
			for j, f := range fv {
				b[j] = []byte(f)
			}
			ops = append(ops, streamOp{args, func(s *keyspace.Stream) { s.Append(id, b, keyspace.StreamNodeMaxBytes, keyspace.StreamNodeMaxEntries) }})
			live = append(live, id)
			all = append(all, id)
		case r < 92 && len(live) > 0:
			j := rng.IntN(len(live))
			id := live[j]
			live = append(live[:j], live[j+1:]...)
			ops = append(ops, streamOp{[]string{"XDEL", key, id.String()}, func(s *keyspace.Stream) { s.Delete(id) }})
		case r < 96:
			keep := uint64(50 + rng.IntN(300))
			approx := rng.IntN(2) == 0
			op, limit := "=", int64(0)
			if approx {
				op, limit = "~", 10000
			}
			ops = append(ops, streamOp{[]string{"XTRIM", key, "MAXLEN", op, strconv.FormatUint(keep, 10)},
				func(s *keyspace.Stream) { s.Trim(keyspace.TrimMaxLen, keep, keyspace.StreamID{}, approx, limit) }})
			if len(live) > int(keep) {
				live = live[len(live)-int(keep):]
			}
		case len(all) > 0:
			min := all[len(all)-1-rng.IntN(min(len(all), 400))]
			if rng.IntN(2) == 0 {
				min.Seq++ // between entries
			}
			approx := rng.IntN(2) == 0
			op, limit := "=", int64(0)
			if approx {
				op, limit = "~", 10000
			}
			ops = append(ops, streamOp{[]string{"XTRIM", key, "MINID", op, min.String()},
				func(s *keyspace.Stream) { s.Trim(keyspace.TrimMinID, 0, min, approx, limit) }})
			for len(live) > 0 && live[0].Less(min) {
				live = live[1:]
			}
		}
	}
	return ops
}

// streamValue returns s's RDB value (what follows the type and key).
func streamValue(t testing.TB, s *keyspace.Stream) []byte {
	t.Helper()
	var buf bytes.Buffer
	c := &crcWriter{w: &buf}
	e := &Encoder{w: &buf, crc: c, bw: bufio.NewWriter(c), db: 0}
	e.writeStream(s)
	if err := e.bw.Flush(); err != nil || e.err != nil {
		t.Fatal(err, e.err)
	}
	return buf.Bytes()
}

// dumpPayload wraps a value as DUMP does: type, value, RDB version, CRC.
func dumpPayload(typ byte, value []byte) []byte {
	b := append([]byte{typ}, value...)
	b = append(b, Version, 0)
	return binary.LittleEndian.AppendUint64(b, crcUpdate(0, b))
}

// testStreamWithGroups builds a stream with deleted entries and groups
// whose PELs and consumers have fixed times.
func testStreamWithGroups(rng *rand.Rand, n int) *keyspace.Stream {
	s := keyspace.NewStream()
	for _, op := range streamOps(rng, "k", n) {
		op.apply(s)
	}
	var ids []keyspace.StreamID
	s.Range(keyspace.StreamID{}, keyspace.MaxStreamID, false, func(id keyspace.StreamID, _ [][]byte) bool {
		ids = append(ids, id)
		return true
	})
	s.CreateGroup("empty", keyspace.StreamID{}, keyspace.EntriesReadInvalid)
	g := s.CreateGroup("workers", s.LastID(), int64(s.EntriesAdded()))
	alice := g.CreateConsumer("alice", 1700000000123)
	g.CreateConsumer("idle", 1700000000999)
	bob := g.CreateConsumer("12345", 1700000000456)
	for i, id := range ids {
		if i%3 == 0 {
			g.AddPending(id, alice, 1700000001000+int64(i), uint64(i%5+1))
		} else if i%3 == 1 {
			g.AddPending(id, bob, 1700000002000+int64(i), 1)
		}
	}
	return s
}

// TestStreamLayoutMatchesRedis: after the same random appends, deletions
// and trims, ferry's stream and redis-server's DUMP to the same bytes
// (nodes, listpacks, metadata), and XINFO STREAM's radix tree counts agree.
func TestStreamLayoutMatchesRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	c := redisIn(t, t.TempDir(), "--rdbcompression", "no")
	maxNodes := 0
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		key := fmt.Sprintf("s%d", seed)
		s := keyspace.NewStream()
		ops := streamOps(rng, key, 150*int(seed))
		for i, op := range ops {
			if r := c.Do(op.cmd...); strings.HasPrefix(r, "-") {
				t.Fatalf("%q: %s", op.cmd, r)
			}
			op.apply(s)
			if i%50 != 49 && i != len(ops)-1 {
				continue
			}
			dump := []byte(status(t, c.Do("DUMP", key)))
			want := dumpPayload(typeStreamListpacks2, streamValue(t, s))
			if !bytes.Equal(dump, want) {
				t.Fatalf("seed %d op %d (%q): DUMP differs\nredis %x\nferry %x", seed, i, op.cmd, dump, want)
			}
			info := c.Do("XINFO", "STREAM", key)
			for _, f := range []struct {
				name string
				n    int
			}{{"radix-tree-keys", s.NodeCount()}, {"radix-tree-nodes", s.RadixTreeNodes()}} {
				if !strings.Contains(info, "$"+strconv.Itoa(len(f.name))+"\r\n"+f.name+"\r\n:"+strconv.Itoa(f.n)+"\r\n") {
					t.Fatalf("seed %d op %d: %s is not %d in %q", seed, i, f.name, f.n, info)
				}
			}
		}
		maxNodes = max(maxNodes, s.NodeCount())
	}
	if maxNodes < 4 {
		t.Fatalf("at most %d nodes: the layout is not exercised", maxNodes)
	}
}

// TestStreamGroupsRestoreInRedis: a stream with consumer groups, as ferry
// writes it, RESTOREs in redis-server (which checks the listpacks and the
// PELs) and DUMPs back to the same bytes.
func TestStreamGroupsRestoreInRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	c := redisIn(t, t.TempDir(), "--rdbcompression", "no", "--sanitize-dump-payload", "yes")
	for seed := uint64(1); seed <= 3; seed++ {
		s := testStreamWithGroups(rand.New(rand.NewPCG(seed, 7)), 300)
		payload := dumpPayload(typeStreamListpacks2, streamValue(t, s))
		key := fmt.Sprintf("g%d", seed)
		if r := c.Do("RESTORE", key, "0", string(payload)); r != "+OK\r\n" {
			t.Fatalf("RESTORE: %s", r)
		}
		if back := []byte(status(t, c.Do("DUMP", key))); !bytes.Equal(back, payload) {
			t.Fatalf("seed %d: DUMP after RESTORE differs", seed)
		}
		if r := c.Do("XPENDING", key, "workers"); !strings.HasPrefix(r, "*4\r\n:"+strconv.Itoa(s.Group("workers").PendingLen())+"\r\n") {
			t.Fatalf("XPENDING: %q", r)
		}
	}
	// An empty stream with a group.
	s := keyspace.NewStream()
	s.CreateGroup("g", keyspace.StreamID{}, 0)
	payload := dumpPayload(typeStreamListpacks2, streamValue(t, s))
	if r := c.Do("RESTORE", "empty", "0", string(payload)); r != "+OK\r\n" {
		t.Fatalf("RESTORE: %s", r)
	}
	if r := c.Do("XLEN", "empty"); r != ":0\r\n" {
		t.Fatalf("XLEN: %s", r)
	}
}

// TestLoadRedisStreams: streams redis-server 7.0 saves (LZF-compressed
// listpacks, groups, consumers, PELs, tombstones, an empty stream) load,
// and ferry writes them back byte for byte as redis-server DUMPs them.
func TestLoadRedisStreams(t *testing.T) {
	redistest.Need(t, "redis-server")
	dir := t.TempDir()
	c := redisIn(t, dir)
	var cmds [][]string
	rng := rand.New(rand.NewPCG(5, 6))
	for _, op := range streamOps(rng, "st:big", 1500) {
		cmds = append(cmds, op.cmd)
	}
	cmds = append(cmds,
		[]string{"XADD", "st:big", "*", "last", "1"},
		[]string{"XGROUP", "CREATE", "st:big", "g1", "0"},
		[]string{"XGROUP", "CREATE", "st:big", "g2", "$", "ENTRIESREAD", "5"},
		[]string{"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "30", "STREAMS", "st:big", ">"},
		[]string{"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "7", "STREAMS", "st:big", ">"},
		[]string{"XREADGROUP", "GROUP", "g1", "carol", "NOACK", "COUNT", "3", "STREAMS", "st:big", ">"},
		[]string{"XGROUP", "CREATECONSUMER", "st:big", "g2", "dave"},
		[]string{"XADD", "st:small", "1-1", "a", "1"},
		[]string{"XDEL", "st:small", "1-1"},
		[]string{"XGROUP", "CREATE", "st:mk", "g", "$", "MKSTREAM"},
	)
	pipeline(t, c, cmds)
	pipeline(t, c, [][]string{{"SAVE"}})
	b, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	ks, _, err := loadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	compareDigest(t, c, ks)
	pipeline(t, c, [][]string{{"CONFIG", "SET", "rdbcompression", "no"}})
	for _, key := range []string{"st:big", "st:small", "st:mk"} {
		o := ks.DB(0).Peek(key)
		if o == nil || o.Kind() != keyspace.KindStream {
			t.Fatalf("%s: %v", key, o)
		}
		s := o.Collection().(*keyspace.Stream)
		want := []byte(status(t, c.Do("DUMP", key)))
		if got := dumpPayload(typeStreamListpacks2, streamValue(t, s)); !bytes.Equal(got, want) {
			t.Fatalf("%s: ferry writes what it loaded differently from redis-server's DUMP", key)
		}
	}
	g := ks.DB(0).Peek("st:big").Collection().(*keyspace.Stream).Group("g1")
	if r := c.Do("XPENDING", "st:big", "g1"); g == nil || !strings.HasPrefix(r, "*4\r\n:"+strconv.Itoa(g.PendingLen())+"\r\n") || g.PendingLen() != 37 {
		t.Fatalf("group g1: %+v, redis: %q", g, r)
	}
}

// v1Value converts a type 19 stream value of s (as streamValue writes it)
// into type 15: no first ID, max deleted ID, entries-added or entries-read.
func v1Value(s *keyspace.Stream) []byte {
	r := newRaw(0)
	r.Reset()
	r.len(uint64(s.NodeCount()))
	s.EachNode(func(m keyspace.StreamID, lp []byte) bool {
		k := m.Key()
		r.str(k[:])
		r.str(lp)
		return true
	})
	meta := s.Meta()
	r.len(meta.Length)
	r.len(meta.LastID.Ms)
	r.len(meta.LastID.Seq)
	r.len(uint64(len(s.Groups())))
	for _, g := range s.Groups() {
		r.str([]byte(g.Name))
		r.len(g.LastID.Ms)
		r.len(g.LastID.Seq)
		r.len(uint64(g.PendingLen()))
		g.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
			k := p.ID.Key()
			r.Write(k[:])
			r.Write(binary.LittleEndian.AppendUint64(nil, uint64(p.DeliveryTime)))
			r.len(p.DeliveryCount)
			return true
		})
		r.len(uint64(len(g.Consumers())))
		for _, c := range g.Consumers() {
			r.str([]byte(c.Name))
			r.Write(binary.LittleEndian.AppendUint64(nil, uint64(c.SeenTime)))
			r.len(uint64(c.PendingLen()))
			c.RangePending(keyspace.StreamID{}, keyspace.MaxStreamID, func(p *keyspace.StreamPending) bool {
				k := p.ID.Key()
				r.Write(k[:])
				return true
			})
		}
	}
	return r.Bytes()
}

// TestLoadStreamV1: RDB_TYPE_STREAM_LISTPACKS (Redis 5 and 6) loads with
// the counters Redis 7.0 derives: entries-added is the length, the first
// ID the first live entry's, entries-read estimated.
func TestLoadStreamV1(t *testing.T) {
	s := testStreamWithGroups(rand.New(rand.NewPCG(3, 3)), 200)
	key := []byte("old")
	b := rdbWith(append(append([]byte{typeStreamListpacks, byte(len(key))}, key...), v1Value(s)...))
	ks, _, err := loadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	got := ks.DB(0).Peek("old").Collection().(*keyspace.Stream)
	var d1, d2 keyspace.Digest
	s.Digest(&d1)
	got.Digest(&d2)
	if d1 != d2 {
		t.Fatal("digest differs")
	}
	m := got.Meta()
	if m.EntriesAdded != s.Length() || m.FirstID != s.FirstLiveID() || !m.MaxDeletedID.IsZero() {
		t.Fatalf("meta %+v", m)
	}
	// workers is at the last ID: all of them; empty before the first
	// entry and no tombstone recorded: none.
	if g := got.Group("workers"); g == nil || g.EntriesRead != int64(s.Length()) || g.PendingLen() != s.Group("workers").PendingLen() {
		t.Fatalf("group %+v", g)
	}
	if g := got.Group("empty"); g == nil || g.EntriesRead != 0 {
		t.Fatalf("group empty: %+v", g)
	}
}

// TestStreamCorrupt: stream values broken in the ways a bad file breaks
// them fail with a clear error, never a panic.
func TestStreamCorrupt(t *testing.T) {
	// Two nodes of small entries, tombstones, a group with a PEL.
	s := keyspace.NewStream()
	for i := 1; i <= 130; i++ {
		fv := [][]byte{[]byte("f"), []byte(strconv.Itoa(i * 37))}
		if i%9 == 0 {
			fv = [][]byte{[]byte("g"), []byte("v"), []byte("h"), []byte("")}
		}
		s.Append(keyspace.StreamID{Ms: uint64(i / 2), Seq: uint64(i)}, fv, 4096, 100)
	}
	for i := 5; i <= 130; i += 11 {
		s.Delete(keyspace.StreamID{Ms: uint64(i / 2), Seq: uint64(i)})
	}
	g := s.CreateGroup("g", s.LastID(), 10)
	cons := g.CreateConsumer("c", 1700000000000)
	for i := 2; i <= 130; i += 20 {
		g.AddPending(keyspace.StreamID{Ms: uint64(i / 2), Seq: uint64(i)}, cons, 1700000000000+int64(i), 2)
	}
	good := streamValue(t, s)
	file := func(value []byte) []byte {
		return rdbWith(append([]byte{typeStreamListpacks2, 1, 'k'}, value...))
	}
	if _, _, err := loadBytes(file(good)); err != nil {
		t.Fatal(err)
	}
	// Every byte flipped, and every truncation, of the value.
	for i := range good {
		for _, mask := range []byte{0x01, 0x40, 0xff} {
			v := bytes.Clone(good)
			v[i] ^= mask
			ks, _, err := loadBytes(file(v))
			if err != nil {
				checkFailed(t, "flipped stream", ks, err)
			}
		}
	}
	for n := 0; n < len(good); n += 7 {
		ks, _, err := loadBytes(file(good[:n]))
		checkFailed(t, "truncated stream", ks, err)
	}
	for _, tc := range []struct {
		name  string
		value func() []byte
		want  string
	}{
		{"node key not 16 bytes", func() []byte {
			r := newRaw(0)
			r.Reset()
			r.len(1)
			r.str([]byte("short"))
			return r.Bytes()
		}, "stream node key of 5 bytes"},
		{"empty listpack", func() []byte {
			r := newRaw(0)
			r.Reset()
			r.len(1)
			k := keyspace.StreamID{Ms: 1}.Key()
			r.str(k[:])
			r.str([]byte{7, 0, 0, 0, 0, 0, 0xff})
			return r.Bytes()
		}, "stream listpack integrity check failed"},
		{"length mismatch", func() []byte {
			one := keyspace.NewStream()
			one.Append(keyspace.StreamID{Ms: 5}, [][]byte{[]byte("a"), []byte("b")}, 4096, 100)
			v := streamValue(t, one)
			// The length follows the single node: key (17 bytes) and listpack.
			at := 1 + 17 + 1 + int(v[18])
			v[at] = 9
			return v
		}, "stream length 9, its nodes hold 1 entries"},
	} {
		ks, _, err := loadBytes(file(tc.value()))
		checkFailed(t, tc.name, ks, err)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// addStreams puts streams in db: one with deleted entries, trims and
// groups, an empty one with a group, and a small one.
func addStreams(db *keyspace.DB, seed uint64, n int) {
	db.SetCollection("stream:groups", testStreamWithGroups(rand.New(rand.NewPCG(seed, 1)), n), false)
	empty := keyspace.NewStream()
	empty.CreateGroup("g", keyspace.StreamID{}, 0)
	db.SetCollection("stream:empty", empty, false)
	small := keyspace.NewStream()
	small.Append(keyspace.StreamID{Ms: 1, Seq: 1}, [][]byte{[]byte("f"), []byte("-17")}, 4096, 100)
	small.Append(keyspace.StreamID{Ms: 1, Seq: 2}, [][]byte{[]byte("f"), []byte("v")}, 4096, 100)
	small.Delete(keyspace.StreamID{Ms: 1, Seq: 1})
	g := small.CreateGroup("g", keyspace.StreamID{Ms: 1, Seq: 2}, 2)
	c := g.CreateConsumer("c", 1700000000000)
	g.AddPending(keyspace.StreamID{Ms: 1, Seq: 2}, c, 1700000000001, 3)
	db.SetCollection("stream:small", small, false)
}
