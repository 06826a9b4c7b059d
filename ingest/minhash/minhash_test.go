package minhash

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func words(rng *rand.Rand, n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("w%d", rng.IntN(1_000_000))
	}
	return w
}

// mutate replaces k words at random positions with fresh ones.
func mutate(rng *rand.Rand, w []string, k int) []string {
	out := append([]string(nil), w...)
	for range k {
		out[rng.IntN(len(out))] = fmt.Sprintf("x%d", rng.IntN(1_000_000))
	}
	return out
}

func shareBand(a, b Signature) bool {
	ka, kb := BandKeys(a), BandKeys(b)
	for i := range ka {
		if ka[i] == kb[i] {
			return true
		}
	}
	return false
}

// TestBanding checks the S-curve: pairs at Jaccard ≥ 0.8 become candidates,
// pairs at ≤ 0.5 rarely do, and the estimate tracks the exact value.
func TestBanding(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var high, highCaught, low, lowCaught int
	var sqErr float64
	var n int
	for range 4000 {
		base := words(rng, 200+rng.IntN(200))
		other := mutate(rng, base, rng.IntN(len(base)/4))
		a, b := strings.Join(base, " "), strings.Join(other, " ")
		j := Jaccard(a, b)
		sa, sb := Sign(a), Sign(b)
		est := EstimateJaccard(sa, sb)
		sqErr += (est - j) * (est - j)
		n++
		switch {
		case j >= 0.8:
			high++
			if shareBand(sa, sb) {
				highCaught++
			}
		case j <= 0.5:
			low++
			if shareBand(sa, sb) {
				lowCaught++
			}
			if est >= Threshold {
				t.Errorf("pair at Jaccard %.2f estimated at %.2f", j, est)
			}
		}
	}
	if high < 500 || low < 500 {
		t.Fatalf("test generated %d high and %d low pairs; want 500 of each", high, low)
	}
	if rate := float64(highCaught) / float64(high); rate < 0.99 {
		t.Errorf("%d of %d pairs at Jaccard ≥ 0.8 were candidates (%.4f), want ≥ 0.99", highCaught, high, rate)
	}
	if rate := float64(lowCaught) / float64(low); rate > 0.30 {
		t.Errorf("%d of %d pairs at Jaccard ≤ 0.5 were candidates (%.3f), want ≤ 0.30", lowCaught, low, rate)
	}
	if rmse := math.Sqrt(sqErr / float64(n)); rmse > 0.05 {
		t.Errorf("estimate RMSE %.3f, want ≤ 0.05", rmse)
	}
	t.Logf("high %d/%d caught, low %d/%d candidates, RMSE %.4f", highCaught, high, lowCaught, low, math.Sqrt(sqErr/float64(n)))
}

func TestUnrelatedTextsNeverMeet(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	sigs := make([]Signature, 300)
	for i := range sigs {
		sigs[i] = Sign(strings.Join(words(rng, 50), " "))
	}
	for i := range sigs {
		for j := i + 1; j < len(sigs); j++ {
			if shareBand(sigs[i], sigs[j]) {
				t.Fatalf("unrelated texts %d and %d share a band", i, j)
			}
		}
	}
}

func TestShinglesIgnoreCaseAndPunctuation(t *testing.T) {
	t.Parallel()
	a := "The quick brown fox jumps over the lazy dog."
	b := "the QUICK, brown fox — jumps over the lazy dog!!"
	if j := Jaccard(a, b); j != 1 {
		t.Errorf("Jaccard %v, want 1", j)
	}
	if Sign(a) != Sign(b) {
		t.Error("signatures differ")
	}
	if j := Jaccard("Ünïcödé wörds här", "ünïcödé WÖRDS här"); j != 1 {
		t.Errorf("Unicode case: Jaccard %v", j)
	}
	// Each Han character is a word, so a one-character change in a long
	// Chinese sentence keeps most shingles.
	zh1 := "我们今天在公园里散步，天气非常好，阳光明媚，大家都很开心。"
	zh2 := "我们今天在公园里散步，天气非常好，阳光明媚，大家都很高兴。"
	if j := Jaccard(zh1, zh2); j < 0.7 || j == 1 {
		t.Errorf("Chinese near-duplicate Jaccard %v", j)
	}
	if j := Jaccard("hello", "hello"); j != 1 {
		t.Errorf("one-word text: %v", j)
	}
	if j := Jaccard("hello", "world"); j != 0 {
		t.Errorf("different one-word texts: %v", j)
	}
	if Sign("!!!") == Sign("???") {
		t.Error("wordless texts with different bytes share a signature")
	}
	empty := Sign("")
	if empty[0] != math.MaxUint32 {
		t.Error("empty signature not at max")
	}
}

// TestStable pins the algorithm: stored band keys and sketches must not
// change without a Version bump.
func TestStable(t *testing.T) {
	t.Parallel()
	s := Sign("The quick brown fox jumps over the lazy dog")
	keys := BandKeys(s)
	got := fmt.Sprintf("%d %d %d %d", s[0], s[K-1], keys[0], keys[Bands-1])
	const want = "977332858 147511481 -4181249191048926771 -4707580533676561379"
	if got != want {
		t.Errorf("signature changed: %s, want %s", got, want)
	}
}

func BenchmarkSign1KB(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	text := strings.Join(words(rng, 150), " ")
	text = text[:1024]
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Sign(text)
	}
}

// TestSketchTracksSignature: over texts at many similarities, the 8-bit
// sketch's estimate stays within a few hundredths of the full signature's
// (both estimate the same Jaccard from the same 120 minima; the sketch only
// adds chance agreements, one in 256), and unrelated texts stay near 0.
func TestSketchTracksSignature(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	worst := 0.0
	for i := range 300 {
		base := words(rng, 80)
		other := mutate(rng, base, i%40)
		a, b := Sign(strings.Join(base, " ")), Sign(strings.Join(other, " "))
		ka, kb := a.Sketch(), b.Sketch()
		worst = max(worst, math.Abs(EstimateSketchJaccard(&ka, &kb)-EstimateJaccard(a, b)))
	}
	if worst > 0.03 {
		t.Fatalf("sketch estimate differs from the signature's by up to %.3f", worst)
	}
	x, y := Sign(strings.Join(words(rng, 80), " ")), Sign(strings.Join(words(rng, 80), " "))
	kx, ky := x.Sketch(), y.Sketch()
	if j := EstimateSketchJaccard(&kx, &ky); j > 0.05 {
		t.Fatalf("unrelated texts estimate %.3f", j)
	}
	if j := EstimateSketchJaccard(&kx, &kx); j != 1 {
		t.Fatalf("a sketch against itself estimates %.3f", j)
	}
}
