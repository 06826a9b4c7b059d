package store

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBandTableMatchesMap: through several growths, the table answers like
// a Go map for present and absent keys, and keeps the first number stored.
func TestBandTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tab bandTable
	want := map[int64]int32{}
	keys := make([]int64, 0, 400_000)
	for n := range int32(400_000) {
		k := r.Int64()
		if n%10 == 0 && len(keys) > 0 {
			k = keys[r.IntN(len(keys))] // a repeat
		}
		got, had := tab.putIfAbsent(k, n)
		w, wantHad := want[k]
		if had != wantHad || had && got != w {
			t.Fatalf("putIfAbsent(%d, %d) = %d, %v; want %d, %v", k, n, got, had, w, wantHad)
		}
		if !wantHad {
			want[k] = n
			keys = append(keys, k)
		}
	}
	if tab.n != len(want) || len(tab.slots) < tab.n*4/3 {
		t.Fatalf("%d entries in %d slots, want %d", tab.n, len(tab.slots), len(want))
	}
	for k, w := range want {
		if got, ok := tab.get(k); !ok || got != w {
			t.Fatalf("get(%d) = %d, %v; want %d", k, got, ok, w)
		}
	}
	for range 10_000 {
		k := r.Int64()
		if _, in := want[k]; in {
			continue
		}
		if got, ok := tab.get(k); ok {
			t.Fatalf("absent key %d found as %d", k, got)
		}
	}
	// Record numbers past the table's range are not remembered.
	if _, had := tab.putIfAbsent(42, bandNumberMask); had {
		t.Fatal("new key reported present")
	}
	if _, ok := tab.get(42); ok {
		t.Fatal("record number past the limit stored")
	}
}

// TestBandSeenPairs: a record is paired once with every earlier record
// sharing any band key, up to maxKeySharers per key.
func TestBandSeenPairs(t *testing.T) {
	b := newBandSeen()
	b.add("a", []int64{1, 2, 3})
	b.add("b", []int64{4, 5, 6})
	b.add("c", []int64{1, 5, 7}) // shares 1 with a, 5 with b
	b.add("d", []int64{1, 2, 9}) // shares 1 and 2 with a, 1 with c
	want := [][2]string{{"c", "a"}, {"c", "b"}, {"d", "a"}, {"d", "c"}}
	if !slices.Equal(b.pairs, want) {
		t.Fatalf("pairs = %v, want %v", b.pairs, want)
	}
	// A cluster of identical keys pairs each record with the first
	// maxKeySharers of it, not with all.
	c := newBandSeen()
	for i := range 40 {
		c.add(string(rune('A'+i)), []int64{100})
	}
	last := 0
	for _, p := range c.pairs {
		if p[0] == string(rune('A'+39)) {
			last++
		}
	}
	if last != maxKeySharers {
		t.Fatalf("the 40th record of a cluster has %d candidates, want %d", last, maxKeySharers)
	}
}
