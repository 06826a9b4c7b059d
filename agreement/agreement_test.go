package agreement

import (
	"math"
	"testing"
)

// missing marks a value an observer did not give.
var missing = math.NaN()

// units turns an observers × units reliability data matrix (NaN = missing)
// into per-unit value lists.
func units(matrix [][]float64) [][]float64 {
	out := make([][]float64, len(matrix[0]))
	for _, row := range matrix {
		for u, v := range row {
			if !math.IsNaN(v) {
				out[u] = append(out[u], v)
			}
		}
	}
	return out
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// TestAlphaLiterature checks Alpha against the published values of the
// worked examples in Klaus Krippendorff, "Computing Krippendorff's
// Alpha-Reliability" (University of Pennsylvania, 2011,
// https://repository.upenn.edu/asc_papers/43) and the example of the
// Wikipedia article "Krippendorff's alpha" (section "A computational
// example"), rounded to three decimals as published.
func TestAlphaLiterature(t *testing.T) {
	n := missing
	// Krippendorff 2011, section C: four observers, twelve units, values
	// 1–5, missing data. Published: nominal α = 0.743; section E (same
	// data, interval metric): α = 0.849.
	sectionC := [][]float64{
		{1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n},
		{1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3},
		{n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n},
		{1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n},
	}
	// Krippendorff 2011, section A: binary data, two observers, ten
	// units, no missing data. Published: α = 0.095.
	sectionA := [][]float64{
		{0, 1, 0, 0, 0, 0, 0, 0, 1, 0},
		{1, 1, 1, 0, 0, 1, 0, 0, 0, 0},
	}
	// Wikipedia, "A computational example": three coders, fifteen units.
	// Published: nominal α = 0.691.
	wikipedia := [][]float64{
		{n, n, n, n, n, 3, 4, 1, 2, 1, 1, 3, 3, n, 3},
		{1, n, 2, 1, 3, 3, 4, 3, n, n, n, n, n, n, n},
		{n, n, 2, 1, 3, 4, 4, n, 2, 1, 1, 3, 3, n, 4},
	}
	for _, tc := range []struct {
		name   string
		data   [][]float64
		metric Metric
		want   float64
	}{
		{"2011 section C nominal", sectionC, Nominal, 0.743},
		{"2011 section E interval", sectionC, Interval, 0.849},
		{"2011 section A binary", sectionA, Nominal, 0.095},
		{"wikipedia nominal", wikipedia, Nominal, 0.691},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Alpha(units(tc.data), tc.metric)
			if !ok || round3(got) != tc.want {
				t.Fatalf("alpha = %.4f (ok %v), want %.3f", got, ok, tc.want)
			}
		})
	}
}

// TestAlphaLabels checks that string labels coded by Codes give the same
// alpha as the numeric codes: 2011 section B (nominal data, two
// observers, no missing data, values a–e), published α = 0.692.
func TestAlphaLabels(t *testing.T) {
	a := []string{"a", "a", "b", "b", "d", "c", "c", "c", "e", "d", "d", "a"}
	b := []string{"b", "a", "b", "b", "b", "c", "c", "c", "e", "d", "d", "d"}
	u := make([][]string, len(a))
	for i := range a {
		u[i] = []string{a[i], b[i]}
	}
	got, ok := Alpha(Codes(u), Nominal)
	if !ok || round3(got) != 0.692 {
		t.Fatalf("alpha = %.4f (ok %v), want 0.692", got, ok)
	}
}

func TestAlphaUndefined(t *testing.T) {
	for name, u := range map[string][][]float64{
		"no data":        nil,
		"single values":  {{1}, {2}, {3}},
		"all the same":   {{1, 1}, {1, 1, 1}},
		"one pairable 2": {{2}},
	} {
		if a, ok := Alpha(u, Nominal); ok {
			t.Errorf("%s: alpha = %v, want undefined", name, a)
		}
	}
	// Perfect agreement over varied values is 1.
	if a, ok := Alpha([][]float64{{1, 1}, {2, 2, 2}, {3, 3}}, Interval); !ok || a != 1 {
		t.Errorf("perfect agreement: alpha = %v, %v", a, ok)
	}
}

func TestMajority(t *testing.T) {
	r := Majority([]string{"spam", "ham", "spam"})
	if r.Value != "spam" || r.Count != 2 || r.Tied || math.Abs(r.Share-2.0/3) > 1e-9 {
		t.Fatalf("majority = %+v", r)
	}
	r = Majority([]string{"ham", "spam", "spam", "ham"})
	if !r.Tied || r.Value != "ham" || r.Count != 2 || r.Share != 0.5 {
		t.Fatalf("tie = %+v, want tied with the first given", r)
	}
	if r := Majority([]int{4}); r.Tied || r.Value != 4 || r.Share != 1 {
		t.Fatalf("single = %+v", r)
	}
	if r := Majority[string](nil); r.Total != 0 || r.Share != 0 || r.Tied {
		t.Fatalf("empty = %+v", r)
	}
	// A three-way split where the first answer is unique is still a tie.
	if r := Majority([]string{"a", "b", "c"}); !r.Tied || r.Value != "a" {
		t.Fatalf("three-way = %+v", r)
	}
}

func TestLabelerAgreement(t *testing.T) {
	answers := []Answer[string]{
		{1, "alice", "x"}, {1, "bob", "x"}, {1, "carol", "y"},
		{2, "alice", "y"}, {2, "bob", "z"}, {2, "carol", "y"},
		{3, "alice", "q"}, // item 3 has no consensus: not counted
	}
	got := LabelerAgreement(answers, map[int64]string{1: "x", 2: "y"})
	want := []Rate{{"alice", 2, 2, 1}, {"bob", 1, 2, 0.5}, {"carol", 1, 2, 0.5}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rate %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
