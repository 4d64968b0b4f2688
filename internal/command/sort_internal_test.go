package command

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// partialSort leaves in positions lo..hi what a full sort puts there, the
// other elements around them, whatever the ties and the range.
func TestPartialSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type item struct{ key, id int }
	cmp := func(a, b *item) int { return a.key - b.key }
	for round := 0; round < 3000; round++ {
		n := r.IntN(120)
		v := make([]item, n)
		for i := range v {
			v[i] = item{r.IntN(1 + r.IntN(20)), i}
		}
		want := slices.Clone(v)
		slices.SortStableFunc(want, func(a, b item) int { return cmp(&a, &b) })
		lo := r.IntN(n+2) - 1
		hi := lo + r.IntN(n+2) - 1
		got := slices.Clone(v)
		partialSort(got, cmp, lo, hi)
		for i := max(lo, 0); i <= min(hi, n-1); i++ {
			if got[i].key != want[i].key {
				t.Fatalf("n %d, range %d..%d: position %d holds %d, a full sort puts %d there", n, lo, hi, i, got[i].key, want[i].key)
			}
		}
		seen := make([]bool, n)
		for _, it := range got {
			if seen[it.id] {
				t.Fatalf("n %d: element %d twice", n, it.id)
			}
			seen[it.id] = true
		}
		for i := 0; i <= min(lo, n)-1; i++ {
			if lo < n && got[i].key > got[lo].key {
				t.Fatalf("n %d, range %d..%d: %d before the range is above its first", n, lo, hi, got[i].key)
			}
		}
	}
}
