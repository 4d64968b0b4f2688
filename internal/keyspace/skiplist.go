package keyspace

import "math/rand/v2"

// The skiplist of a large sorted set (Redis's zskiplist, t_zset.c): nodes
// ordered by score then member bytes, each level's forward link carrying
// its span (the number of level-0 steps it skips), so that the rank of an
// element and the element at a rank are found in O(log n).

const (
	zslMaxLevel = 32
	// zslP is the probability that a node reaches the next level.
	zslP = 0.25
)

type zslNode struct {
	member   string
	score    float64
	backward *zslNode
	level    []zslLevel
}

type zslLevel struct {
	forward *zslNode
	span    int
}

type skiplist struct {
	header *zslNode
	tail   *zslNode
	length int
	level  int
}

func newSkiplist() *skiplist {
	return &skiplist{header: &zslNode{level: make([]zslLevel, zslMaxLevel)}, level: 1}
}

func zslRandomLevel() int {
	level := 1
	for level < zslMaxLevel && rand.Float64() < zslP {
		level++
	}
	return level
}

// zslBefore reports whether (s1, m1) sorts before (s2, m2): by score, then
// by member bytes (Go's string order is memcmp's).
func zslBefore(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

// first returns the lowest element, or nil.
func (sl *skiplist) first() *zslNode { return sl.header.level[0].forward }

// insert adds an element that is not in the list yet and returns its node.
func (sl *skiplist) insert(score float64, member string) *zslNode {
	var update [zslMaxLevel]*zslNode
	var rank [zslMaxLevel]int
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		if i < sl.level-1 {
			rank[i] = rank[i+1]
		}
		for f := x.level[i].forward; f != nil && zslBefore(f.score, f.member, score, member); f = x.level[i].forward {
			rank[i] += x.level[i].span
			x = f
		}
		update[i] = x
	}
	level := zslRandomLevel()
	if level > sl.level {
		for i := sl.level; i < level; i++ {
			rank[i] = 0
			update[i] = sl.header
			update[i].level[i].span = sl.length
		}
		sl.level = level
	}
	x = &zslNode{member: member, score: score, level: make([]zslLevel, level)}
	for i := 0; i < level; i++ {
		x.level[i].forward = update[i].level[i].forward
		update[i].level[i].forward = x
		x.level[i].span = update[i].level[i].span - (rank[0] - rank[i])
		update[i].level[i].span = rank[0] - rank[i] + 1
	}
	for i := level; i < sl.level; i++ {
		update[i].level[i].span++
	}
	if update[0] != sl.header {
		x.backward = update[0]
	}
	if x.level[0].forward != nil {
		x.level[0].forward.backward = x
	} else {
		sl.tail = x
	}
	sl.length++
	return x
}

// unlink removes x given, for every level, the last node before it.
func (sl *skiplist) unlink(x *zslNode, update *[zslMaxLevel]*zslNode) {
	for i := 0; i < sl.level; i++ {
		if update[i].level[i].forward == x {
			update[i].level[i].span += x.level[i].span - 1
			update[i].level[i].forward = x.level[i].forward
		} else {
			update[i].level[i].span--
		}
	}
	if x.level[0].forward != nil {
		x.level[0].forward.backward = x.backward
	} else {
		sl.tail = x.backward
	}
	for sl.level > 1 && sl.header.level[sl.level-1].forward == nil {
		sl.level--
	}
	sl.length--
}

// find returns the node of (score, member), filling update with the last
// node before it on every level; nil when it is absent.
func (sl *skiplist) find(score float64, member string, update *[zslMaxLevel]*zslNode) *zslNode {
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		for f := x.level[i].forward; f != nil && zslBefore(f.score, f.member, score, member); f = x.level[i].forward {
			x = f
		}
		update[i] = x
	}
	x = x.level[0].forward
	if x != nil && x.score == score && x.member == member {
		return x
	}
	return nil
}

// delete removes (score, member) and reports whether it was there.
func (sl *skiplist) delete(score float64, member string) bool {
	var update [zslMaxLevel]*zslNode
	x := sl.find(score, member, &update)
	if x == nil {
		return false
	}
	sl.unlink(x, &update)
	return true
}

// updateScore moves member from score cur to score to. The node stays in
// place when the order allows it.
func (sl *skiplist) updateScore(cur float64, member string, to float64) {
	var update [zslMaxLevel]*zslNode
	x := sl.find(cur, member, &update)
	if x == nil {
		return
	}
	if (x.backward == nil || x.backward.score < to) &&
		(x.level[0].forward == nil || x.level[0].forward.score > to) {
		x.score = to
		return
	}
	sl.unlink(x, &update)
	sl.insert(to, x.member) // the node's own copy: member may be a view
}

// rank returns the 1-based rank of (score, member), 0 when it is absent.
func (sl *skiplist) rank(score float64, member string) int {
	x := sl.header
	rank := 0
	for i := sl.level - 1; i >= 0; i-- {
		for f := x.level[i].forward; f != nil && (f.score < score || (f.score == score && f.member <= member)); f = x.level[i].forward {
			rank += x.level[i].span
			x = f
		}
		if x != sl.header && x.score == score && x.member == member {
			return rank
		}
	}
	return 0
}

// byRank returns the node of 1-based rank r, or nil.
func (sl *skiplist) byRank(r int) *zslNode {
	x := sl.header
	traversed := 0
	for i := sl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && traversed+x.level[i].span <= r {
			traversed += x.level[i].span
			x = x.level[i].forward
		}
		if traversed == r {
			if x == sl.header {
				return nil
			}
			return x
		}
	}
	return nil
}

// descend walks down to the last node for which in holds (in must hold
// for a prefix of the list for the answer to be meaningful) and returns it
// with its 1-based rank: the header and 0 when in holds for no node.
func (sl *skiplist) descend(in func(x *zslNode) bool) (*zslNode, int) {
	x := sl.header
	rank := 0
	for i := sl.level - 1; i >= 0; i-- {
		for f := x.level[i].forward; f != nil && in(f); f = x.level[i].forward {
			rank += x.level[i].span
			x = f
		}
	}
	return x, rank
}

// deleteFrom removes, starting at the first node for which before does
// not hold, every node while keep holds, calling removed for each. It
// returns the number removed.
func (sl *skiplist) deleteFrom(before, keep func(x *zslNode) bool, removed func(member string)) int {
	var update [zslMaxLevel]*zslNode
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		for f := x.level[i].forward; f != nil && before(f); f = x.level[i].forward {
			x = f
		}
		update[i] = x
	}
	x = x.level[0].forward
	n := 0
	for x != nil && keep(x) {
		next := x.level[0].forward
		sl.unlink(x, &update)
		removed(x.member)
		n++
		x = next
	}
	return n
}

// deleteRank removes the nodes of 1-based ranks start..end.
func (sl *skiplist) deleteRank(start, end int, removed func(member string)) int {
	var update [zslMaxLevel]*zslNode
	x := sl.header
	traversed := 0
	for i := sl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && traversed+x.level[i].span < start {
			traversed += x.level[i].span
			x = x.level[i].forward
		}
		update[i] = x
	}
	traversed++
	x = x.level[0].forward
	n := 0
	for x != nil && traversed <= end {
		next := x.level[0].forward
		sl.unlink(x, &update)
		removed(x.member)
		n++
		traversed++
		x = next
	}
	return n
}
