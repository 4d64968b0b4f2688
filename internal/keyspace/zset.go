package keyspace

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/dict"
	"github.com/ferrydb/ferry/internal/resp"
)

// ZSet is a sorted set value, ordered by score then by member bytes. Like
// Redis 7.0 it starts in the "listpack" encoding (a sorted array scanned
// linearly, as Redis scans its listpack) and converts for good to the
// "skiplist" encoding (an indexable skiplist plus a member->score dict, so
// ZSCAN cursors behave as Redis's) once it holds more than
// Limits.ZSetMaxListpackEntries members or a member longer than
// Limits.ZSetMaxListpackValue bytes.
//
// Scores stored in the listpack encoding go through Redis's listpack
// representation: -0 is stored, and read back, as the integer 0.
//
// Every method copies the member bytes it retains. Ranks are 0-based and
// count from the lowest score.
type ZSet struct {
	lp   []zsetEntry         // listpack encoding (sl == nil), sorted
	sl   *skiplist           // skiplist encoding
	dict *dict.Dict[float64] // member -> score, skiplist encoding
	// texts holds, in the listpack encoding, the score texts a loaded
	// listpack or ziplist gave that differ from the listpack's own
	// (ListpackScoreText): Redis keeps them until the member changes,
	// and ZSCAN replies them.
	texts map[string]string
}

type zsetEntry struct {
	member string
	score  float64
}

var _ Collection = (*ZSet)(nil)

// NewZSet returns an empty sorted set in the listpack encoding.
func NewZSet() *ZSet { return &ZSet{} }

// NewZSetSkiplist returns an empty sorted set in the skiplist encoding,
// as Redis creates the results of ZUNIONSTORE and friends, and those of
// ZRANGESTORE when more members are coming than a listpack holds.
func NewZSetSkiplist() *ZSet {
	z := &ZSet{}
	z.convert()
	return z
}

// Compact converts a skiplist set to the listpack encoding when it fits
// lim, as Redis does for the result of ZUNIONSTORE, ZINTERSTORE and
// ZDIFFSTORE (and never for a stored set).
func (z *ZSet) Compact(lim Limits) {
	if z.sl == nil || z.sl.length > lim.ZSetMaxListpackEntries {
		return
	}
	for x := z.sl.first(); x != nil; x = x.level[0].forward {
		if len(x.member) > lim.ZSetMaxListpackValue {
			return
		}
	}
	lp := make([]zsetEntry, 0, z.sl.length)
	for x := z.sl.first(); x != nil; x = x.level[0].forward {
		lp = append(lp, zsetEntry{x.member, lpScore(x.score)})
	}
	z.lp, z.sl, z.dict, z.texts = lp, nil, nil, nil
}

// Kind returns KindZSet.
func (z *ZSet) Kind() Kind { return KindZSet }

// Len returns the number of members.
func (z *ZSet) Len() int {
	if z.sl != nil {
		return z.sl.length
	}
	return len(z.lp)
}

// Encoding returns "listpack" or "skiplist".
func (z *ZSet) Encoding() string {
	if z.sl != nil {
		return "skiplist"
	}
	return "listpack"
}

// IsListpack reports whether the set is in the compact encoding.
func (z *ZSet) IsListpack() bool { return z.sl == nil }

// Digest mixes the set into d as DEBUG DIGEST does: for each member, the
// member then its score formatted "%.17g" are mixed into a zeroed digest,
// which is xored into d.
func (z *ZSet) Digest(d *Digest) {
	var tmp [32]byte
	z.Range(func(member string, score float64) bool {
		var e Digest
		e.MixString(member)
		e.Mix(resp.AppendDouble(tmp[:0], score))
		d.Xor(e[:])
		return true
	})
}

// Clone returns a deep copy in the same encoding.
func (z *ZSet) Clone() Collection {
	n := &ZSet{}
	if z.sl == nil {
		n.lp = append([]zsetEntry(nil), z.lp...)
		if z.texts != nil {
			n.texts = maps.Clone(z.texts)
		}
		return n
	}
	n.sl = newSkiplist()
	n.dict = dict.New[float64]()
	for x := z.sl.tail; x != nil; x = x.backward {
		n.sl.insert(x.score, x.member)
		v, _ := n.dict.Put(x.member)
		*v = x.score
	}
	return n
}

// HasListpackNegZero reports whether the set is in the listpack encoding
// and holds a score of -0 (see AddOwnedExact), which only a listpack can
// carry through an RDB file or DUMP payload (AppendListpack).
func (z *ZSet) HasListpackNegZero() bool {
	if z.sl != nil {
		return false
	}
	for _, e := range z.lp {
		if e.score == 0 && math.Signbit(e.score) {
			return true
		}
	}
	return false
}

// AppendListpack appends the set as a Redis listpack (member, score,
// member, score...) to dst: members as Redis's lpAppend stores them, a
// score as zzlInsertAt does (an integer when it is one that double2ll
// takes, else its d2string text), but for -0, written as the string "-0".
func (z *ZSet) AppendListpack(dst []byte) []byte {
	lp := lpNew()
	var enc, tmp []byte
	n := 0
	z.Range(func(member string, score float64) bool {
		enc = lpEncodeString(enc, []byte(member))
		const lim = float64(math.MaxInt64 / 2)
		text, kept := z.texts[member]
		switch {
		case kept:
			enc = lpEncodeString(enc, []byte(text))
		case score == 0 && math.Signbit(score):
			enc = lpEncodeString(enc, []byte("-0"))
		case score >= -lim && score <= lim && score == math.Trunc(score):
			enc = lpEncodeInt(enc, int64(score))
		default:
			tmp = resp.AppendDouble(tmp[:0], score)
			enc = lpEncodeString(enc, tmp)
		}
		n += 2
		return true
	})
	return append(dst, lpAppend(lp, enc, n)...)
}

// ListpackScoreText appends to dst the text ZSCAN replies for member's
// score f in the listpack encoding: the text a loaded listpack or ziplist
// held for it (SetScoreText), else Redis's own (an integer when the score
// is one that double2ll takes, else its "%.17g" text).
func (z *ZSet) ListpackScoreText(dst []byte, member string, f float64) []byte {
	if t, ok := z.texts[member]; ok {
		return append(dst, t...)
	}
	return appendListpackScore(dst, f)
}

func appendListpackScore(dst []byte, f float64) []byte {
	const lim = float64(math.MaxInt64 / 2)
	if f >= -lim && f <= lim && f == math.Trunc(f) && !(f == 0 && math.Signbit(f)) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return resp.AppendDouble(dst, f)
}

// SetScoreText records text as member's score text in the listpack
// encoding, when it is not the one ListpackScoreText would give for score
// (a listpack or ziplist that another writer filled, or a score beyond
// what ferry writes as an integer): a loader calls it after adding member
// with score, as read from text.
func (z *ZSet) SetScoreText(member []byte, score float64, text []byte) {
	var tmp [32]byte
	if z.sl != nil || string(appendListpackScore(tmp[:0], score)) == string(text) {
		return
	}
	i := z.lpFind(string(member))
	if i < 0 || math.Float64bits(z.lp[i].score) != math.Float64bits(score) {
		return
	}
	if z.texts == nil {
		z.texts = map[string]string{}
	}
	z.texts[z.lp[i].member] = string(text)
}

// lpScore returns the score a listpack gives back for f.
func lpScore(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}

func (z *ZSet) lpFind(member string) int {
	for i := range z.lp {
		if z.lp[i].member == member {
			return i
		}
	}
	return -1
}

// lpInsert inserts a new member at its place.
func (z *ZSet) lpInsert(member string, score float64) {
	z.lpInsertExact(member, lpScore(score))
}

// lpInsertExact inserts a new member at its place with score as given.
func (z *ZSet) lpInsertExact(member string, score float64) {
	i := sort.Search(len(z.lp), func(i int) bool {
		return !zslBefore(z.lp[i].score, z.lp[i].member, score, member)
	})
	z.lp = append(z.lp, zsetEntry{})
	copy(z.lp[i+1:], z.lp[i:])
	z.lp[i] = zsetEntry{member, score}
}

func (z *ZSet) lpDelete(i, n int) {
	if z.texts != nil {
		for _, e := range z.lp[i : i+n] {
			delete(z.texts, e.member)
		}
	}
	z.lp = append(z.lp[:i], z.lp[i+n:]...)
}

// convert moves a listpack set to the skiplist encoding.
func (z *ZSet) convert() {
	z.sl = newSkiplist()
	z.dict = dict.New[float64]()
	for i := len(z.lp) - 1; i >= 0; i-- {
		e := z.lp[i]
		z.sl.insert(e.score, e.member)
		v, _ := z.dict.Put(e.member)
		*v = e.score
	}
	z.lp, z.texts = nil, nil
}

// Score returns member's score.
func (z *ZSet) Score(member string) (float64, bool) {
	if z.sl != nil {
		if v := z.dict.Get(member); v != nil {
			return *v, true
		}
		return 0, false
	}
	if i := z.lpFind(member); i >= 0 {
		return z.lp[i].score, true
	}
	return 0, false
}

// ZAddFlags are ZADD's options.
type ZAddFlags uint8

// ZADD options.
const (
	ZAddNX ZAddFlags = 1 << iota
	ZAddXX
	ZAddGT
	ZAddLT
	ZAddIncr
)

// ZAddResult says what Add did.
type ZAddResult uint8

// Add results.
const (
	// ZAddNaN: the score (or the incremented score) is not a number;
	// nothing changed.
	ZAddNaN ZAddResult = iota
	// ZAddAdded: the member is new.
	ZAddAdded
	// ZAddUpdated: the member's score changed.
	ZAddUpdated
	// ZAddSame: the member exists and its score did not change.
	ZAddSame
	// ZAddNop: the options prevented the change.
	ZAddNop
)

// Add adds member with score, or updates its score, following ZADD's
// options (Redis's zsetAdd). It returns what it did and the member's new
// score as computed (valid for ZAddAdded, ZAddUpdated and ZAddSame; a
// listpack may store -0 as 0). The set converts to the skiplist encoding
// when a new member does not fit lim.
func (z *ZSet) Add(member string, score float64, flags ZAddFlags, lim Limits) (ZAddResult, float64) {
	if math.IsNaN(score) {
		return ZAddNaN, 0
	}
	cur, exists := z.Score(member)
	if exists {
		if flags&ZAddNX != 0 {
			return ZAddNop, 0
		}
		if flags&ZAddIncr != 0 {
			score += cur
			if math.IsNaN(score) {
				return ZAddNaN, 0
			}
		}
		if (flags&ZAddLT != 0 && score >= cur) || (flags&ZAddGT != 0 && score <= cur) {
			return ZAddNop, 0
		}
		if score == cur {
			// The score as computed: an increment of 0 on a score of -0
			// gives 0, though -0 stays (zsetAdd's newscore).
			return ZAddSame, score
		}
		if z.sl != nil {
			z.sl.updateScore(cur, member, score)
			*z.dict.Get(member) = score
			return ZAddUpdated, score
		}
		i := z.lpFind(member)
		m := z.lp[i].member
		z.lpDelete(i, 1)
		z.lpInsert(m, score)
		return ZAddUpdated, score
	}
	if flags&ZAddXX != 0 {
		return ZAddNop, 0
	}
	if z.sl == nil && (len(z.lp)+1 > lim.ZSetMaxListpackEntries || len(member) > lim.ZSetMaxListpackValue) {
		z.convert()
	}
	if z.sl != nil {
		m := strings.Clone(member)
		z.sl.insert(score, m)
		v, _ := z.dict.Put(m)
		*v = score
		return ZAddAdded, score
	}
	z.lpInsert(strings.Clone(member), score)
	return ZAddAdded, score
}

// AddOwned adds member, which must not be a member yet (it reports false
// and adds nothing when it is), keeping the string as it is rather than a
// copy: a snapshot loader hands a small sorted set's members over this
// way, carved from one allocation. The score must not be NaN.
func (z *ZSet) AddOwned(member string, score float64, lim Limits) bool {
	return z.addOwned(member, score, lim, false)
}

// AddOwnedExact is AddOwned keeping a score of -0 as -0 in the listpack
// encoding too: a listpack or ziplist in an RDB file or DUMP payload that
// holds a score as the string "-0" (not the integer 0 Redis's own writes
// store) gives back -0 in Redis.
func (z *ZSet) AddOwnedExact(member string, score float64, lim Limits) bool {
	return z.addOwned(member, score, lim, true)
}

func (z *ZSet) addOwned(member string, score float64, lim Limits, exact bool) bool {
	if _, exists := z.Score(member); exists {
		return false
	}
	if z.sl == nil && (len(z.lp)+1 > lim.ZSetMaxListpackEntries || len(member) > lim.ZSetMaxListpackValue) {
		z.convert()
	}
	if z.sl != nil {
		z.sl.insert(score, member)
		v, _ := z.dict.PutOwned(member)
		*v = score
		return true
	}
	if !exact {
		score = lpScore(score)
	}
	z.lpInsertExact(member, score)
	return true
}

// Reserve makes room for n more members in the listpack encoding.
func (z *ZSet) Reserve(n int) {
	if z.sl == nil && n > 0 {
		z.lp = slices.Grow(z.lp, n)
	}
}

// Remove removes member and reports whether it was there.
func (z *ZSet) Remove(member string) bool {
	if z.sl != nil {
		score, ok := z.dict.Delete(member)
		if !ok {
			return false
		}
		z.sl.delete(score, member)
		return true
	}
	i := z.lpFind(member)
	if i < 0 {
		return false
	}
	z.lpDelete(i, 1)
	return true
}

// Rank returns member's rank.
func (z *ZSet) Rank(member string) (int, bool) {
	if z.sl != nil {
		v := z.dict.Get(member)
		if v == nil {
			return 0, false
		}
		return z.sl.rank(*v, member) - 1, true
	}
	i := z.lpFind(member)
	return i, i >= 0
}

// Walk calls fn for the elements from rank from on, in ascending order or
// descending when rev, until fn returns false or the set ends. fn must not
// modify the set.
func (z *ZSet) Walk(from int, rev bool, fn func(member string, score float64) bool) {
	if from < 0 || from >= z.Len() {
		return
	}
	if z.sl == nil {
		if rev {
			for i := from; i >= 0; i-- {
				if !fn(z.lp[i].member, z.lp[i].score) {
					return
				}
			}
			return
		}
		for i := from; i < len(z.lp); i++ {
			if !fn(z.lp[i].member, z.lp[i].score) {
				return
			}
		}
		return
	}
	var x *zslNode
	switch {
	case from == 0:
		x = z.sl.first()
	case from == z.sl.length-1:
		x = z.sl.tail
	default:
		x = z.sl.byRank(from + 1)
	}
	for x != nil && fn(x.member, x.score) {
		if rev {
			x = x.backward
		} else {
			x = x.level[0].forward
		}
	}
}

// Range calls fn for every element in ascending order until fn returns
// false. fn must not modify the set.
func (z *ZSet) Range(fn func(member string, score float64) bool) { z.Walk(0, false, fn) }

// At returns the element of rank r (0 <= r < Len()).
func (z *ZSet) At(r int) (member string, score float64) {
	if z.sl == nil {
		return z.lp[r].member, z.lp[r].score
	}
	x := z.sl.byRank(r + 1)
	return x.member, x.score
}

// Pop removes and returns the lowest element, or the highest when max.
// The set must not be empty.
func (z *ZSet) Pop(max bool) (member string, score float64) {
	if z.sl == nil {
		i := 0
		if max {
			i = len(z.lp) - 1
		}
		e := z.lp[i]
		z.lpDelete(i, 1)
		return e.member, e.score
	}
	x := z.sl.first()
	if max {
		x = z.sl.tail
	}
	z.dict.Delete(x.member)
	z.sl.delete(x.score, x.member)
	return x.member, x.score
}

// Random returns a random element of a non-empty set.
func (z *ZSet) Random() (member string, score float64) {
	if z.sl != nil {
		m, v, _ := z.dict.Random()
		return m, *v
	}
	e := z.lp[rand.IntN(len(z.lp))]
	return e.member, e.score
}

// Scan visits the elements of one cursor step of a skiplist set (see
// dict.Dict.Scan) and returns the next cursor. A listpack set is visited
// whole, in order, and 0 is returned, as Redis does for compact encodings.
func (z *ZSet) Scan(cursor uint64, fn func(member string, score float64)) uint64 {
	if z.sl == nil {
		for _, e := range z.lp {
			fn(e.member, e.score)
		}
		return 0
	}
	return z.dict.Scan(cursor, func(m string, v *float64) { fn(m, *v) })
}

// ScoreRange is a score interval (ZRANGEBYSCORE's min and max); MinEx and
// MaxEx make a bound exclusive.
type ScoreRange struct {
	Min, Max     float64
	MinEx, MaxEx bool
}

// GteMin reports whether s is above the lower bound.
func (r *ScoreRange) GteMin(s float64) bool {
	if r.MinEx {
		return s > r.Min
	}
	return s >= r.Min
}

// LteMax reports whether s is below the upper bound.
func (r *ScoreRange) LteMax(s float64) bool {
	if r.MaxEx {
		return s < r.Max
	}
	return s <= r.Max
}

func (r *ScoreRange) empty() bool {
	return r.Min > r.Max || (r.Min == r.Max && (r.MinEx || r.MaxEx))
}

// LexBound is one end of a lexicographic range: "-" (Inf < 0), "+"
// (Inf > 0), or "[value" / "(value" (Ex).
type LexBound struct {
	Value string
	Inf   int
	Ex    bool
}

// LexRange is ZRANGEBYLEX's min and max.
type LexRange struct {
	Min, Max LexBound
}

// lexCmp compares a member (or bound) with a bound, as Redis's sdscmplex.
func lexCmp(a, b LexBound) int {
	switch {
	case a.Inf != 0 && a.Inf == b.Inf:
		return 0
	case a.Inf < 0 || b.Inf > 0:
		return -1
	case a.Inf > 0 || b.Inf < 0:
		return 1
	}
	return strings.Compare(a.Value, b.Value)
}

// GteMin reports whether member is above the lower bound.
func (r *LexRange) GteMin(member string) bool {
	c := lexCmp(LexBound{Value: member}, r.Min)
	if r.Min.Ex {
		return c > 0
	}
	return c >= 0
}

// LteMax reports whether member is below the upper bound.
func (r *LexRange) LteMax(member string) bool {
	c := lexCmp(LexBound{Value: member}, r.Max)
	if r.Max.Ex {
		return c < 0
	}
	return c <= 0
}

func (r *LexRange) empty() bool {
	c := lexCmp(r.Min, r.Max)
	return c > 0 || (c == 0 && (r.Min.Ex || r.Max.Ex))
}

// bounds abstracts score and lex ranges for the search functions.
type bounds struct {
	empty  bool
	gteMin func(member string, score float64) bool
	lteMax func(member string, score float64) bool
}

func scoreBounds(r *ScoreRange) bounds {
	return bounds{
		empty:  r.empty(),
		gteMin: func(_ string, s float64) bool { return r.GteMin(s) },
		lteMax: func(_ string, s float64) bool { return r.LteMax(s) },
	}
}

func lexBounds(r *LexRange) bounds {
	return bounds{
		empty:  r.empty(),
		gteMin: func(m string, _ float64) bool { return r.GteMin(m) },
		lteMax: func(m string, _ float64) bool { return r.LteMax(m) },
	}
}

// inRange reports whether part of the set may be in range: the range is
// not empty, the highest element is above min and the lowest below max.
func (z *ZSet) inRange(b bounds) bool {
	if b.empty || z.Len() == 0 {
		return false
	}
	if z.sl != nil {
		hi, lo := z.sl.tail, z.sl.first()
		return b.gteMin(hi.member, hi.score) && b.lteMax(lo.member, lo.score)
	}
	hi, lo := z.lp[len(z.lp)-1], z.lp[0]
	return b.gteMin(hi.member, hi.score) && b.lteMax(lo.member, lo.score)
}

// first returns the rank of the first element in range, or -1. Like Redis,
// the listpack is scanned from its start and the skiplist descended, which
// only agree when the range's order is the set's (a lex range over
// members of equal scores).
func (z *ZSet) first(b bounds) int {
	if !z.inRange(b) {
		return -1
	}
	if z.sl == nil {
		for i, e := range z.lp {
			if b.gteMin(e.member, e.score) {
				if b.lteMax(e.member, e.score) {
					return i
				}
				return -1
			}
		}
		return -1
	}
	x, rank := z.sl.descend(func(x *zslNode) bool { return !b.gteMin(x.member, x.score) })
	x = x.level[0].forward
	if x == nil || !b.lteMax(x.member, x.score) {
		return -1
	}
	return rank
}

// last returns the rank of the last element in range, or -1.
func (z *ZSet) last(b bounds) int {
	if !z.inRange(b) {
		return -1
	}
	if z.sl == nil {
		for i := len(z.lp) - 1; i >= 0; i-- {
			e := z.lp[i]
			if b.lteMax(e.member, e.score) {
				if b.gteMin(e.member, e.score) {
					return i
				}
				return -1
			}
		}
		return -1
	}
	x, rank := z.sl.descend(func(x *zslNode) bool { return b.lteMax(x.member, x.score) })
	if x == z.sl.header || !b.gteMin(x.member, x.score) {
		return -1
	}
	return rank - 1
}

// count counts the elements in range as ZCOUNT and ZLEXCOUNT do.
func (z *ZSet) count(b bounds) int {
	f := z.first(b)
	if f < 0 {
		return 0
	}
	if z.sl == nil {
		n := 0
		for _, e := range z.lp[f:] {
			if !b.lteMax(e.member, e.score) {
				break
			}
			n++
		}
		return n
	}
	n := z.sl.length - f
	if l := z.last(b); l >= 0 {
		n -= z.sl.length - (l + 1)
	}
	return n
}

// deleteRange removes the elements in range as ZREMRANGEBYSCORE and
// ZREMRANGEBYLEX do, calling removed (when not nil) for each.
func (z *ZSet) deleteRange(b bounds, removed func(member string)) int {
	if z.sl == nil {
		f := z.first(b)
		if f < 0 {
			return 0
		}
		n := 0
		for f+n < len(z.lp) && b.lteMax(z.lp[f+n].member, z.lp[f+n].score) {
			if removed != nil {
				removed(z.lp[f+n].member)
			}
			n++
		}
		z.lpDelete(f, n)
		return n
	}
	return z.sl.deleteFrom(
		func(x *zslNode) bool { return !b.gteMin(x.member, x.score) },
		func(x *zslNode) bool { return b.lteMax(x.member, x.score) },
		func(m string) {
			z.dict.Delete(m)
			if removed != nil {
				removed(m)
			}
		})
}

// LexOrdered reports whether lexicographic ranges give the same answer
// whatever the set's encoding and its skiplist's random levels: all its
// scores are equal, so that its order is the members' order. Otherwise a
// lex range is, as in Redis, only meaningful up to how the encoding is
// walked: a listpack linearly, a skiplist by the levels its descent
// happens to take; and a replica may hold the set in the other encoding
// (other listpack limits, or a listpack with a long member that RESTORE
// kept and a snapshot load turned into a skiplist).
func (z *ZSet) LexOrdered() bool {
	if z.sl == nil {
		return len(z.lp) == 0 || z.lp[0].score == z.lp[len(z.lp)-1].score
	}
	return z.sl.length == 0 || z.sl.first().score == z.sl.tail.score
}

// FirstInScore returns the rank of the first element in r, or -1.
func (z *ZSet) FirstInScore(r ScoreRange) int { return z.first(scoreBounds(&r)) }

// LastInScore returns the rank of the last element in r, or -1.
func (z *ZSet) LastInScore(r ScoreRange) int { return z.last(scoreBounds(&r)) }

// CountScore returns the number of elements in r (ZCOUNT).
func (z *ZSet) CountScore(r ScoreRange) int { return z.count(scoreBounds(&r)) }

// DeleteScore removes the elements in r and returns how many there were.
func (z *ZSet) DeleteScore(r ScoreRange) int { return z.deleteRange(scoreBounds(&r), nil) }

// FirstInLex returns the rank of the first element in r, or -1.
func (z *ZSet) FirstInLex(r LexRange) int { return z.first(lexBounds(&r)) }

// LastInLex returns the rank of the last element in r, or -1.
func (z *ZSet) LastInLex(r LexRange) int { return z.last(lexBounds(&r)) }

// CountLex returns the number of elements in r (ZLEXCOUNT).
func (z *ZSet) CountLex(r LexRange) int { return z.count(lexBounds(&r)) }

// DeleteLex removes the elements in r and returns how many there were,
// calling removed (when not nil) for each.
func (z *ZSet) DeleteLex(r LexRange, removed func(member string)) int {
	return z.deleteRange(lexBounds(&r), removed)
}

// DeleteRank removes the elements of ranks start..end (0 <= start <= end <
// Len()) and returns how many there were.
func (z *ZSet) DeleteRank(start, end int) int {
	if z.sl == nil {
		z.lpDelete(start, end-start+1)
		return end - start + 1
	}
	return z.sl.deleteRank(start+1, end+1, func(m string) { z.dict.Delete(m) })
}
