package command

import (
	"bytes"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// SORT and SORT_RO (sort.c) over lists, sets and sorted sets, with BY and
// GET patterns ('*' replaced by the element, "->field" reading a hash
// field, "#" the element itself), LIMIT, ASC/DESC, ALPHA and STORE.
//
// Orders match redis-server 7.0.15 (glibc 2.36, C or C.UTF-8 locale):
// numeric weights parse as strtod does and ties sort by the elements'
// bytes; ALPHA compares bytes up to the first NUL (strcoll in those
// locales), or all of them with STORE; a full sort is stable (glibc's
// qsort is a merge sort) and a partial one (BY with LIMIT) runs Redis's
// partial quicksort, so that ties keep Redis's order. Where Redis's order
// comes from a hash table (the members of a hashtable set, of a sorted
// set that is sorted), ferry's differs, as Redis's does between runs.
// Redis tests a weight's strtod for ERANGE without clearing errno, so a
// weight out of range can fail later SORTs on a connection too; ferry
// judges each weight alone.
//
// Effects: SORT ... STORE propagates itself, which a replica recomputes to
// the same list (everything it reads is in the dataset, and the only tie
// order that would depend on a hash table, ALPHA over a hashtable set,
// starts from the members in byte order); an empty result propagates as
// DEL of the destination when it existed.

func init() {
	registrations = append(registrations, registerSort)
}

func registerSort(t *Table) {
	t.Add(
		&Command{Name: "sort", Arity: -2, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic", Since: "1.0.0",
			Summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
			ACL:     []string{"write", "set", "sortedset", "list", "slow", "dangerous"}, Handler: sortCmd},
		&Command{Name: "sort_ro", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Group: "generic", Since: "7.0.0",
			Summary: "Returns the sorted elements of a list, a set, or a sorted set.",
			ACL:     []string{"read", "set", "sortedset", "list", "slow", "dangerous"}, Handler: sortroCmd},
	)
}

const errSortScores = "ERR One or more scores can't be converted into double"

// sortItem is one element to sort and what it sorts by.
type sortItem struct {
	elem  string
	score float64 // numeric weight
	by    []byte  // ALPHA weight from a BY pattern
	hasBy bool    // by was found
}

// sortOrder is sortCompare's configuration.
type sortOrder struct {
	desc, alpha, byPattern, store bool
}

// cmp orders a and b as Redis's sortCompare does.
func (o *sortOrder) cmp(a, b *sortItem) int {
	var r int
	switch {
	case !o.alpha:
		switch {
		case a.score > b.score:
			r = 1
		case a.score < b.score:
			r = -1
		default:
			r = strings.Compare(a.elem, b.elem)
		}
	case o.byPattern:
		switch {
		case !a.hasBy || !b.hasBy:
			switch {
			case a.hasBy == b.hasBy:
				r = 0
			case !a.hasBy:
				r = -1
			default:
				r = 1
			}
		case o.store:
			r = bytes.Compare(a.by, b.by)
		default:
			r = bytes.Compare(sortCBytes(a.by), sortCBytes(b.by))
		}
	case o.store:
		r = strings.Compare(a.elem, b.elem)
	default:
		r = strings.Compare(sortCStr(a.elem), sortCStr(b.elem))
	}
	if o.desc {
		return -r
	}
	return r
}

// cString returns b up to its first NUL, as C string functions see it.
func sortCBytes(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

func sortCStr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// sortWeight parses a numeric SORT weight as Redis does with strtod: the
// bytes up to the first NUL, white space first allowed, nothing after the
// number, and no NaN, overflow or inexact underflow (ERANGE). An empty
// string is 0.
func sortWeight(b []byte) (float64, bool) {
	b = sortCBytes(b)
	if len(b) == 0 {
		return 0, true
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] >= '\t' && b[i] <= '\r') {
		i++
	}
	b = b[i:]
	if len(b) == 0 {
		return 0, false
	}
	f, ok := num.ParseFloat(b)
	if !ok {
		return 0, false
	}
	if f != 0 && math.Abs(f) < 0x1p-1022 && !exactFloat(b, f) {
		return 0, false // a subnormal result strtod flags with ERANGE
	}
	return f, true
}

// exactFloat reports whether the number s (decimal or hex) is exactly f.
func exactFloat(s []byte, f float64) bool {
	str := string(s)
	if strings.ContainsAny(str, "xX") && !strings.ContainsAny(str, "pP") {
		str += "p0"
	}
	if len(str) > 4096 {
		return false
	}
	r, ok := new(big.Rat).SetString(str)
	if !ok {
		return false
	}
	return new(big.Rat).SetFloat64(f).Cmp(r) == 0
}

// sortPattern splits a pattern as Redis's lookupKeyByPattern does, which
// reads it as a C string in places: '*' and "->" are only searched before
// the first NUL.
type sortPattern struct {
	self, none     bool
	prefix, suffix []byte
	field          []byte
}

func parseSortPattern(p []byte) sortPattern {
	if len(p) > 0 && p[0] == '#' && (len(p) == 1 || p[1] == 0) {
		return sortPattern{self: true}
	}
	c := sortCBytes(p)
	star := bytes.IndexByte(c, '*')
	if star < 0 {
		return sortPattern{none: true}
	}
	sp := sortPattern{prefix: p[:star]}
	rest := p[star+1:]
	if f := bytes.Index(c[star+1:], []byte("->")); f >= 0 && star+1+f+2 < len(p) && p[star+1+f+2] != 0 {
		sp.field = rest[f+2:]
		rest = rest[:f]
	}
	sp.suffix = rest
	return sp
}

// lookup returns the value the pattern names for elem: a string key's
// value or a hash field's. It reads keys as a read command does.
func (sp *sortPattern) lookup(c *Ctx, elem string, buf *[]byte) ([]byte, bool) {
	if sp.self {
		return []byte(elem), true
	}
	if sp.none {
		return nil, false
	}
	k := append((*buf)[:0], sp.prefix...)
	k = append(k, elem...)
	k = append(k, sp.suffix...)
	*buf = k
	o := c.Lookup(view(k))
	if o == nil {
		return nil, false
	}
	if sp.field != nil {
		if o.Kind() != keyspace.KindHash {
			return nil, false
		}
		return o.Collection().(*keyspace.Hash).Get(view(sp.field))
	}
	if o.Kind() != keyspace.KindString {
		return nil, false
	}
	return o.Str(), true
}

func sortCmd(c *Ctx)   { sortGeneric(c, false) }
func sortroCmd(c *Ctx) { sortGeneric(c, true) }

func sortGeneric(c *Ctx, readonly bool) {
	var (
		ord        sortOrder
		dontsort   bool
		limitStart int64
		limitCount int64 = -1
		by         []byte
		gets       []sortPattern
		store      []byte
	)
	for j := 2; j < len(c.Args); j++ {
		left := len(c.Args) - j - 1
		switch {
		case c.Is(j, "asc"):
			ord.desc = false
		case c.Is(j, "desc"):
			ord.desc = true
		case c.Is(j, "alpha"):
			ord.alpha = true
		case c.Is(j, "limit") && left >= 2:
			var ok bool
			if limitStart, ok = c.Int(j + 1); !ok {
				return
			}
			if limitCount, ok = c.Int(j + 2); !ok {
				return
			}
			j += 2
		case !readonly && c.Is(j, "store") && left >= 1:
			store = c.Args[j+1]
			j++
		case c.Is(j, "by") && left >= 1:
			by = c.Args[j+1]
			// A pattern without '*' is constant: nothing to sort by. Like
			// Redis, a later BY with a real pattern does not undo it.
			if bytes.IndexByte(sortCBytes(by), '*') < 0 {
				dontsort = true
			} else if !c.fullKeyAccess() {
				c.Error("ERR BY option of SORT denied due to insufficient ACL permissions.")
				return
			}
			j++
		case c.Is(j, "get") && left >= 1:
			if !c.fullKeyAccess() {
				c.Error("ERR GET option of SORT denied due to insufficient ACL permissions.")
				return
			}
			gets = append(gets, parseSortPattern(c.Args[j+1]))
			j++
		default:
			c.Error(ErrSyntax)
			return
		}
	}

	o := c.Lookup(c.Arg(1))
	kind := keyspace.KindList
	if o != nil {
		kind = o.Kind()
		if kind != keyspace.KindList && kind != keyspace.KindSet && kind != keyspace.KindZSet {
			c.Error(ErrWrongType)
			return
		}
	}
	// A set has no order of its own: with STORE, or in a script, it is
	// sorted (ALPHA) so that the result does not depend on its layout.
	if dontsort && kind == keyspace.KindSet && (store != nil || c.Client.lua) {
		dontsort, ord.alpha, by = false, true, nil
	}

	var size int
	if o != nil {
		size = o.Collection().Len()
	}
	n := int64(size)
	start := min(max(limitStart, 0), n)
	limitCount = min(max(limitCount, -1), n)
	end := n - 1
	if limitCount >= 0 {
		end = start + limitCount - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	end = min(end, n-1)

	vec := sortVector(o, kind, dontsort, ord.desc, &start, &end)

	convErr := false
	if !dontsort {
		var pat sortPattern
		if by != nil {
			pat = parseSortPattern(by)
		}
		if kind == keyspace.KindSet && ord.alpha && !o.Collection().(*keyspace.Set).IsIntset() {
			// Ties keep the vector's order: start from one the replicas
			// and SORT_RO share, not from the hash table's.
			slices.SortFunc(vec, func(a, b sortItem) int { return strings.Compare(a.elem, b.elem) })
		}
		var buf []byte
		for i := range vec {
			it := &vec[i]
			var w []byte
			if by != nil {
				v, ok := pat.lookup(c, it.elem, &buf)
				if !ok {
					continue
				}
				w = v
			}
			if ord.alpha {
				if by != nil {
					it.by, it.hasBy = w, true
				}
				continue
			}
			if by == nil {
				w = []byte(it.elem)
			}
			f, ok := sortWeight(w)
			if !ok {
				convErr = true
			}
			it.score = f
		}
		if !convErr {
			ord.byPattern, ord.store = by != nil, store != nil
			if by != nil && (start != 0 || end != int64(len(vec))-1) {
				partialSort(vec, ord.cmp, int(start), int(end))
			} else {
				slices.SortStableFunc(vec, func(a, b sortItem) int { return ord.cmp(&a, &b) })
			}
		}
	}

	if convErr {
		c.Error(errSortScores)
		return
	}
	rows := end - start + 1
	outLen := rows
	if len(gets) > 0 {
		outLen *= int64(len(gets))
	}
	var buf []byte
	if store == nil {
		c.W.Array(int(outLen))
		for j := start; j <= end; j++ {
			elem := vec[j].elem
			if len(gets) == 0 {
				c.W.BulkString(elem)
			}
			for i := range gets {
				if v, ok := gets[i].lookup(c, elem, &buf); ok {
					c.W.Bulk(v)
				} else {
					c.W.Null()
				}
			}
		}
		return
	}
	res := keyspace.NewList()
	res.Reserve(int(outLen))
	for j := start; j <= end; j++ {
		elem := vec[j].elem
		if len(gets) == 0 {
			res.PushBackString(elem)
			continue
		}
		for i := range gets {
			v, _ := gets[i].lookup(c, elem, &buf)
			res.PushBack(v)
		}
	}
	dst := view(store)
	if outLen > 0 {
		c.DB.SetCollection(dst, res, false)
		c.Touch(dst)
		c.notify(notifyList, "sortstore", dst)
		c.Propagate()
	} else if c.DB.Delete(dst) {
		c.Touch(dst)
		c.notify(notifyGeneric, "del", dst)
		c.PropagateArgs(Bytes("DEL"), store)
	}
	c.W.Int(outLen)
}

// sortVector loads the elements to sort. For a list or sorted set that is
// not sorted it loads only the LIMIT range, in DESC order when asked, and
// moves start and end to match, as Redis does.
func sortVector(o *keyspace.Object, kind keyspace.Kind, dontsort, desc bool, start, end *int64) []sortItem {
	if o == nil {
		return nil
	}
	switch kind {
	case keyspace.KindList:
		l := o.Collection().(*keyspace.List)
		if !dontsort {
			vec := make([]sortItem, 0, l.Len())
			l.Each(func(s string) bool {
				vec = append(vec, sortItem{elem: s})
				return true
			})
			return vec
		}
		if *end < *start {
			return nil
		}
		cnt := int(*end - *start + 1)
		vec := make([]sortItem, 0, cnt)
		for k := 0; k < cnt; k++ {
			i := int(*start) + k
			if desc {
				i = l.Len() - 1 - i
			}
			vec = append(vec, sortItem{elem: l.At(i)})
		}
		*end -= *start
		*start = 0
		return vec
	case keyspace.KindSet:
		s := o.Collection().(*keyspace.Set)
		vec := make([]sortItem, 0, s.Len())
		s.Range(func(m []byte) bool {
			vec = append(vec, sortItem{elem: string(m)})
			return true
		})
		return vec
	default:
		z := o.Collection().(*keyspace.ZSet)
		if !dontsort {
			// Redis walks the sorted set's hash table here; ferry walks
			// it in order.
			vec := make([]sortItem, 0, z.Len())
			z.Range(func(m string, _ float64) bool {
				vec = append(vec, sortItem{elem: m})
				return true
			})
			return vec
		}
		cnt := int(*end - *start + 1)
		vec := make([]sortItem, 0, max(cnt, 0))
		if cnt > 0 {
			from := int(*start)
			if desc {
				from = z.Len() - 1 - from
			}
			z.Walk(from, desc, func(m string, _ float64) bool {
				vec = append(vec, sortItem{elem: m})
				return len(vec) < cnt
			})
		}
		*end -= *start
		*start = 0
		return vec
	}
}

// partialSort puts into positions lo..hi of v what a full sort by cmp
// would put there. It is the three-way quicksort of Bentley and McIlroy ("Engineering
// a Sort Function") that Redis's pqsort runs, descending only into the
// parts that overlap lo..hi, step for step, so that elements that compare
// equal end where Redis leaves them.
func partialSort[T any](v []T, cmp func(a, b *T) int, lo, hi int) {
	outside := func(first, last int) bool {
		return lo < first && hi < first || lo > last && hi > last
	}
	median := func(a []T, i, j, k int) int {
		if cmp(&a[i], &a[j]) < 0 {
			switch {
			case cmp(&a[j], &a[k]) < 0:
				return j
			case cmp(&a[i], &a[k]) < 0:
				return k
			}
			return i
		}
		switch {
		case cmp(&a[j], &a[k]) > 0:
			return j
		case cmp(&a[i], &a[k]) < 0:
			return i
		}
		return k
	}
	swapRuns := func(a []T, i, j, n int) {
		for ; n > 0; n-- {
			a[i], a[j] = a[j], a[i]
			i++
			j++
		}
	}
	var run func(base, n int)
	run = func(base, n int) {
		for {
			a := v[base : base+n]
			if n < 7 {
				for m := 1; m < n; m++ {
					for l := m; l > 0 && cmp(&a[l-1], &a[l]) > 0; l-- {
						a[l], a[l-1] = a[l-1], a[l]
					}
				}
				return
			}
			m := n / 2
			if n > 7 {
				l, r := 0, n-1
				if n > 40 {
					d := n / 8
					l = median(a, l, l+d, l+2*d)
					m = median(a, m-d, m, m+d)
					r = median(a, r-2*d, r-d, r)
				}
				m = median(a, l, m, r)
			}
			a[0], a[m] = a[m], a[0]
			pa, pb, pc, pd := 1, 1, n-1, n-1
			for {
				for pb <= pc {
					r := cmp(&a[pb], &a[0])
					if r > 0 {
						break
					}
					if r == 0 {
						a[pa], a[pb] = a[pb], a[pa]
						pa++
					}
					pb++
				}
				for pb <= pc {
					r := cmp(&a[pc], &a[0])
					if r < 0 {
						break
					}
					if r == 0 {
						a[pc], a[pd] = a[pd], a[pc]
						pd--
					}
					pc--
				}
				if pb > pc {
					break
				}
				a[pb], a[pc] = a[pc], a[pb]
				pb++
				pc--
			}
			r := min(pa, pb-pa)
			swapRuns(a, 0, pb-r, r)
			r = min(pd-pc, n-pd-1)
			swapRuns(a, pb, n-r, r)
			if r := pb - pa; r > 1 && !outside(base, base+r-1) {
				run(base, r)
			}
			r = pd - pc
			if r <= 1 {
				return
			}
			base, n = base+n-r, r
			if outside(base, base+n-1) {
				return
			}
		}
	}
	run(0, len(v))
}
