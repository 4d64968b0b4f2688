package keyspace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"unsafe"
)

// zmodel is the obviously correct sorted set the ZSet is checked against.
type zmodel map[string]float64

func (m zmodel) sorted() []zsetEntry {
	out := make([]zsetEntry, 0, len(m))
	for k, v := range m {
		out = append(out, zsetEntry{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		return zslBefore(out[i].score, out[i].member, out[j].score, out[j].member)
	})
	return out
}

func zcontents(z *ZSet) []zsetEntry {
	var out []zsetEntry
	z.Range(func(m string, s float64) bool {
		out = append(out, zsetEntry{m, s})
		return true
	})
	return out
}

// checkSkiplist verifies the skiplist's links, spans, backward pointers
// and dict against each other.
func checkSkiplist(t *testing.T, z *ZSet) {
	t.Helper()
	sl := z.sl
	if sl == nil {
		return
	}
	var nodes []*zslNode
	for x := sl.first(); x != nil; x = x.level[0].forward {
		nodes = append(nodes, x)
	}
	if len(nodes) != sl.length || z.dict.Len() != sl.length {
		t.Fatalf("length %d, nodes %d, dict %d", sl.length, len(nodes), z.dict.Len())
	}
	pos := map[*zslNode]int{sl.header: 0}
	for i, x := range nodes {
		pos[x] = i + 1
		var prev *zslNode
		if i > 0 {
			prev = nodes[i-1]
			if !zslBefore(prev.score, prev.member, x.score, x.member) {
				t.Fatalf("order broken at %d", i)
			}
		}
		if x.backward != prev {
			t.Fatalf("backward of %q wrong", x.member)
		}
		if v := z.dict.Get(x.member); v == nil || *v != x.score {
			t.Fatalf("dict disagrees on %q", x.member)
		}
	}
	if sl.length > 0 && sl.tail != nodes[len(nodes)-1] {
		t.Fatal("tail wrong")
	}
	for lvl := 0; lvl < sl.level; lvl++ {
		for x := sl.header; x != nil; x = x.level[lvl].forward {
			f := x.level[lvl].forward
			want := sl.length - pos[x]
			if f != nil {
				want = pos[f] - pos[x]
			}
			if f != nil && x.level[lvl].span != want {
				t.Fatalf("level %d span after %d: %d, want %d", lvl, pos[x], x.level[lvl].span, want)
			}
		}
	}
}

func TestZSetModel(t *testing.T) {
	for _, lim := range []Limits{DefaultLimits, {ZSetMaxListpackEntries: 1000, ZSetMaxListpackValue: 1000}, {ZSetMaxListpackEntries: 0}} {
		t.Run(fmt.Sprint(lim.ZSetMaxListpackEntries), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(lim.ZSetMaxListpackEntries)))
			z, m := NewZSet(), zmodel{}
			for step := 0; step < 20000; step++ {
				member := fmt.Sprintf("m%d", r.IntN(300))
				score := float64(r.IntN(50)) / 4
				switch op := r.IntN(10); {
				case op < 5:
					res, got := z.Add(member, score, 0, lim)
					_, had := m[member]
					switch {
					case !had && res != ZAddAdded, had && m[member] == score && res != ZAddSame,
						had && m[member] != score && res != ZAddUpdated:
						t.Fatalf("step %d: Add(%s, %v) = %v (had %v)", step, member, score, res, had)
					}
					if got != score {
						t.Fatalf("Add returned score %v", got)
					}
					m[member] = score
				case op < 7:
					if z.Remove(member) != hasKey(m, member) {
						t.Fatalf("Remove(%s) disagrees", member)
					}
					delete(m, member)
				case op < 8:
					rk, ok := z.Rank(member)
					want := m.sorted()
					wi := -1
					for i, e := range want {
						if e.member == member {
							wi = i
						}
					}
					if ok != (wi >= 0) || (ok && rk != wi) {
						t.Fatalf("Rank(%s) = %d %v, want %d", member, rk, ok, wi)
					}
				case op < 9 && len(m) > 0:
					want := m.sorted()
					a, b := r.IntN(len(want)), r.IntN(len(want))
					if a > b {
						a, b = b, a
					}
					if n := z.DeleteRank(a, b); n != b-a+1 {
						t.Fatalf("DeleteRank = %d", n)
					}
					for _, e := range want[a : b+1] {
						delete(m, e.member)
					}
				default:
					rg := ScoreRange{Min: float64(r.IntN(50)) / 4, Max: float64(r.IntN(50)) / 4, MinEx: r.IntN(2) == 0, MaxEx: r.IntN(2) == 0}
					want := 0
					for _, v := range m {
						if rg.GteMin(v) && rg.LteMax(v) {
							want++
						}
					}
					if got := z.CountScore(rg); got != want {
						t.Fatalf("CountScore(%+v) = %d, want %d", rg, got, want)
					}
					if r.IntN(4) == 0 {
						if got := z.DeleteScore(rg); got != want {
							t.Fatalf("DeleteScore = %d, want %d", got, want)
						}
						for k, v := range m {
							if rg.GteMin(v) && rg.LteMax(v) {
								delete(m, k)
							}
						}
					}
				}
				if z.Len() != len(m) {
					t.Fatalf("step %d: Len %d, want %d", step, z.Len(), len(m))
				}
				if step%97 == 0 {
					checkSkiplist(t, z)
					want, got := m.sorted(), zcontents(z)
					if fmt.Sprint(want) != fmt.Sprint(got) {
						t.Fatalf("step %d: contents differ\n got %v\nwant %v", step, got, want)
					}
					for i := range want {
						if mm, s := z.At(i); mm != want[i].member || s != want[i].score {
							t.Fatalf("At(%d) = %s %v", i, mm, s)
						}
					}
				}
			}
		})
	}
}

func hasKey(m zmodel, k string) bool { _, ok := m[k]; return ok }

func TestZSetEncoding(t *testing.T) {
	lim := Limits{ZSetMaxListpackEntries: 3, ZSetMaxListpackValue: 5}
	z := NewZSet()
	for i, m := range []string{"a", "b", "c"} {
		z.Add(m, float64(i), 0, lim)
	}
	if z.Encoding() != "listpack" {
		t.Fatalf("encoding %s", z.Encoding())
	}
	z.Add("d", 4, 0, lim)
	if z.Encoding() != "skiplist" {
		t.Fatalf("encoding %s after 4 members", z.Encoding())
	}
	z.Remove("d")
	z.Remove("c")
	if z.Encoding() != "skiplist" {
		t.Fatal("a skiplist never goes back to listpack")
	}
	z2 := NewZSet()
	z2.Add("toolong", 1, 0, lim)
	if z2.Encoding() != "skiplist" {
		t.Fatal("long member must convert")
	}
	z3 := NewZSet()
	z3.Add("ok", 1, 0, lim)
	z3.Add("ok", 2, 0, lim)
	if z3.Encoding() != "listpack" {
		t.Fatal("updating a score must not convert")
	}
}

func TestZSetAddOptions(t *testing.T) {
	lim := DefaultLimits
	z := NewZSet()
	z.Add("a", 5, 0, lim)
	cases := []struct {
		score float64
		flags ZAddFlags
		want  ZAddResult
		after float64
	}{
		{6, ZAddNX, ZAddNop, 5},
		{4, ZAddGT, ZAddNop, 5},
		{6, ZAddLT, ZAddNop, 5},
		{6, ZAddGT | ZAddXX, ZAddUpdated, 6},
		{1, ZAddIncr, ZAddUpdated, 7},
		{0, ZAddIncr, ZAddSame, 7},
		{-1, ZAddIncr | ZAddGT, ZAddNop, 7},
		{math.Inf(1), 0, ZAddUpdated, math.Inf(1)},
		{math.Inf(-1), ZAddIncr, ZAddNaN, math.Inf(1)},
	}
	for _, c := range cases {
		got, _ := z.Add("a", c.score, c.flags, lim)
		if s, _ := z.Score("a"); got != c.want || s != c.after {
			t.Fatalf("Add(%v, %v) = %v, score %v; want %v, %v", c.score, c.flags, got, s, c.want, c.after)
		}
	}
	if res, _ := z.Add("new", 1, ZAddXX, lim); res != ZAddNop || z.Len() != 1 {
		t.Fatal("XX must not add")
	}
	if res, _ := z.Add("x", math.NaN(), 0, lim); res != ZAddNaN {
		t.Fatal("NaN must be refused")
	}
}

// TestZSetNegativeZero: the listpack stores -0 as the integer 0, the
// skiplist keeps the double.
func TestZSetNegativeZero(t *testing.T) {
	small, big := NewZSet(), NewZSet()
	small.Add("a", math.Copysign(0, -1), 0, DefaultLimits)
	big.Add("a", math.Copysign(0, -1), 0, Limits{})
	if s, _ := small.Score("a"); math.Signbit(s) {
		t.Fatal("listpack kept -0")
	}
	if s, _ := big.Score("a"); !math.Signbit(s) {
		t.Fatal("skiplist lost -0")
	}
}

// TestZSetDigest compares with DEBUG DIGEST-VALUE of redis-server 7.0 for
// ZADD z -inf d 1 a 4611686018427387904 e 1e300 b inf c -0 f 1.1 g.
func TestZSetDigest(t *testing.T) {
	for _, c := range []struct {
		lim  Limits
		want string
	}{
		{DefaultLimits, "99761f7bc9f57a4f545ecc47a40f16fa0df8ee56"},
		{Limits{ZSetMaxListpackEntries: 0, ZSetMaxListpackValue: 64}, "c67a6fa9d8c91ff6bc4ccc58dc7cebeb78cd47c9"},
	} {
		z := NewZSet()
		for _, e := range []zsetEntry{{"d", math.Inf(-1)}, {"a", 1}, {"e", 4611686018427387904}, {"b", 1e300}, {"c", math.Inf(1)}, {"f", math.Copysign(0, -1)}, {"g", 1.1}} {
			z.Add(e.member, e.score, 0, c.lim)
		}
		ks := New(nil)
		o := ks.DB(0).SetCollection("z", z, false)
		if got := ValueDigest(o); got.Hex() != c.want {
			t.Errorf("%s digest %s, want %s", z.Encoding(), got.Hex(), c.want)
		}
		cl := z.Clone().(*ZSet)
		o2 := ks.DB(0).SetCollection("z2", cl, false)
		if got := ValueDigest(o2); got.Hex() != c.want || cl.Encoding() != z.Encoding() {
			t.Errorf("clone differs")
		}
		cl.Remove("a")
		if z.Len() != 7 {
			t.Error("clone shares state")
		}
	}
}

func TestZSetLexRange(t *testing.T) {
	for _, lim := range []Limits{DefaultLimits, {}} {
		z := NewZSet()
		for _, m := range []string{"a", "b", "c", "d", "e"} {
			z.Add(m, 0, 0, lim)
		}
		inc := func(s string) LexBound { return LexBound{Value: s} }
		exc := func(s string) LexBound { return LexBound{Value: s, Ex: true} }
		minus, plus := LexBound{Inf: -1, Ex: true}, LexBound{Inf: 1, Ex: true}
		cases := []struct {
			r           LexRange
			first, last int
			count       int
		}{
			{LexRange{minus, plus}, 0, 4, 5},
			{LexRange{inc("b"), exc("d")}, 1, 2, 2},
			{LexRange{exc("b"), inc("d")}, 2, 3, 2},
			{LexRange{inc("bb"), plus}, 2, 4, 3},
			{LexRange{plus, minus}, -1, -1, 0},
			{LexRange{minus, minus}, -1, -1, 0},
			{LexRange{exc("c"), exc("c")}, -1, -1, 0},
			{LexRange{inc("c"), inc("c")}, 2, 2, 1},
			{LexRange{inc("f"), plus}, -1, -1, 0},
			{LexRange{minus, exc("a")}, -1, -1, 0},
		}
		for _, c := range cases {
			if f, l, n := z.FirstInLex(c.r), z.LastInLex(c.r), z.CountLex(c.r); f != c.first || l != c.last || n != c.count {
				t.Errorf("%s %+v: first %d last %d count %d, want %d %d %d", z.Encoding(), c.r, f, l, n, c.first, c.last, c.count)
			}
		}
		if n := z.DeleteLex(LexRange{exc("a"), inc("c")}, nil); n != 2 || z.Len() != 3 {
			t.Errorf("DeleteLex removed %d", n)
		}
		checkSkiplist(t, z)
	}
}

func TestZSetWalkPopScan(t *testing.T) {
	for _, lim := range []Limits{DefaultLimits, {}} {
		z := NewZSet()
		for i := 0; i < 50; i++ {
			z.Add(fmt.Sprintf("m%02d", i), float64(i), 0, lim)
		}
		var got []string
		z.Walk(10, true, func(m string, _ float64) bool {
			got = append(got, m)
			return len(got) < 3
		})
		if fmt.Sprint(got) != "[m10 m09 m08]" {
			t.Errorf("%s Walk rev: %v", z.Encoding(), got)
		}
		if m, s := z.Pop(true); m != "m49" || s != 49 {
			t.Errorf("Pop max = %s %v", m, s)
		}
		if m, _ := z.Pop(false); m != "m00" {
			t.Errorf("Pop min = %s", m)
		}
		seen := map[string]bool{}
		cur := uint64(0)
		for {
			cur = z.Scan(cur, func(m string, s float64) { seen[m] = true })
			if cur == 0 {
				break
			}
		}
		if len(seen) != 48 {
			t.Errorf("Scan saw %d members", len(seen))
		}
		checkSkiplist(t, z)
		for i := 0; i < 100; i++ {
			m, s := z.Random()
			if got, ok := z.Score(m); !ok || got != s {
				t.Fatalf("Random returned %s %v", m, s)
			}
		}
	}
}

func TestZSetSkiplistAndCompact(t *testing.T) {
	lim := Limits{ZSetMaxListpackEntries: 3, ZSetMaxListpackValue: 4}
	z := NewZSetSkiplist()
	z.Add("a", math.Copysign(0, -1), 0, lim)
	z.Add("b", 1, 0, lim)
	if z.Encoding() != "skiplist" {
		t.Fatal("NewZSetSkiplist must start as a skiplist")
	}
	if s, _ := z.Score("a"); !math.Signbit(s) {
		t.Fatal("skiplist lost -0")
	}
	z.Compact(lim)
	if z.Encoding() != "listpack" || z.Len() != 2 {
		t.Fatalf("Compact: %s with %d members", z.Encoding(), z.Len())
	}
	if s, _ := z.Score("a"); math.Signbit(s) {
		t.Fatal("a listpack keeps no -0")
	}
	big := NewZSetSkiplist()
	for _, m := range []string{"a", "b", "c", "d"} {
		big.Add(m, 1, 0, lim)
	}
	big.Compact(lim)
	long := NewZSetSkiplist()
	long.Add("toolong", 1, 0, lim)
	long.Compact(lim)
	if big.Encoding() != "skiplist" || long.Encoding() != "skiplist" {
		t.Fatal("Compact must keep sets that do not fit")
	}
}

// TestZSetCopiesMembers: members passed as views of a buffer that is
// reused afterwards must not change inside the set.
func TestZSetCopiesMembers(t *testing.T) {
	for _, lim := range []Limits{DefaultLimits, {}} {
		z := NewZSet()
		buf := []byte("member")
		view := func() string { return unsafe.String(&buf[0], len(buf)) }
		z.Add(view(), 1, 0, lim)
		z.Add("other", 3, 0, lim)
		z.Add(view(), 5, 0, lim) // an update that moves the member past "other"
		copy(buf, "XXXXXX")
		if m, s := z.At(1); m != "member" || s != 5 {
			t.Fatalf("%s: member became %q %v", z.Encoding(), m, s)
		}
		if _, ok := z.Score("member"); !ok {
			t.Fatalf("%s: member lost", z.Encoding())
		}
	}
}
