package store

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/modelfactory/modelfactory/ingest/minhash"
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

// TestBandSeenSketches: records with sketches are compared as they come;
// only the best earlier match at or above the threshold is kept, and a
// candidate that only shares a band key is neither kept nor paired.
func TestBandSeenSketches(t *testing.T) {
	sketch := func(text string) *minhash.Sketch {
		k := minhash.Sign(text).Sketch()
		return &k
	}
	base := "the tide turns at dawn and the harbour pilots board the ships waiting in the outer roads before the ebb"
	b := newBandSeen()
	b.add("orig", []int64{1}, sketch(base))
	b.add("other", []int64{1, 2}, sketch("completely different words about kidney stones and dialysis machines in hospitals"))
	b.add("near", []int64{1, 2}, sketch(base+" today"))
	if len(b.pairs) != 0 {
		t.Fatalf("sketched records left pairs: %v", b.pairs)
	}
	if len(b.matches) != 1 || b.matches[0].hash != "near" || b.matches[0].other != "orig" || b.matches[0].score < NearDupThreshold {
		t.Fatalf("matches = %+v", b.matches)
	}
	// A record without a sketch is left to the later comparison.
	b.add("plain", []int64{2}, nil)
	if len(b.pairs) != 2 {
		t.Fatalf("pairs for a record without a sketch = %v", b.pairs)
	}
}

// TestBandSeenPairs: a record is paired once with every earlier record
// sharing any band key, up to maxKeySharers per key.
func TestBandSeenPairs(t *testing.T) {
	b := newBandSeen()
	b.add("a", []int64{1, 2, 3}, nil)
	b.add("b", []int64{4, 5, 6}, nil)
	b.add("c", []int64{1, 5, 7}, nil) // shares 1 with a, 5 with b
	b.add("d", []int64{1, 2, 9}, nil) // shares 1 and 2 with a, 1 with c
	want := [][2]string{{"c", "a"}, {"c", "b"}, {"d", "a"}, {"d", "c"}}
	if !slices.Equal(b.pairs, want) {
		t.Fatalf("pairs = %v, want %v", b.pairs, want)
	}
	// A cluster of identical keys pairs each record with the first
	// maxKeySharers of it, not with all.
	c := newBandSeen()
	for i := range 40 {
		c.add(string(rune('A'+i)), []int64{100}, nil)
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
