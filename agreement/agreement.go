// Package agreement measures how far several labelers agree: the majority
// answer of one item (with ties flagged), Krippendorff's alpha over many
// items (nominal and interval metrics, missing data allowed), and each
// labeler's agreement with the consensus. It knows nothing of HTTP or of
// where the labels are stored.
package agreement

import (
	"cmp"
	"math"
	"slices"
)

// Result is the majority answer of one item.
type Result[T comparable] struct {
	Value T       // the most frequent answer; among tied answers, the first given
	Count int     // how many labelers gave it
	Total int     // how many answers there were
	Share float64 // Count / Total, 0 for no answers
	Tied  bool    // another answer was given as often
}

// Majority returns the most frequent of values. When several answers share
// the highest count the result is flagged Tied and Value is the one given
// first, so the outcome is deterministic but never silently trusted.
func Majority[T comparable](values []T) Result[T] {
	var r Result[T]
	r.Total = len(values)
	if len(values) == 0 {
		return r
	}
	counts := make(map[T]int, len(values))
	for _, v := range values {
		counts[v]++
	}
	for _, v := range values {
		switch c := counts[v]; {
		case c > r.Count:
			r.Value, r.Count, r.Tied = v, c, false
		case c == r.Count && v != r.Value:
			r.Tied = true
		}
	}
	r.Share = float64(r.Count) / float64(r.Total)
	return r
}

// Metric is a squared difference function δ² between two values.
type Metric func(a, b float64) float64

// Nominal is the nominal metric: values either match (0) or not (1).
func Nominal(a, b float64) float64 {
	if a == b {
		return 0
	}
	return 1
}

// Interval is the interval metric: the squared difference.
func Interval(a, b float64) float64 { return (a - b) * (a - b) }

// Alpha computes Krippendorff's alpha over units (items), each holding the
// values its labelers gave; labelers who did not label a unit are simply
// absent (missing data). Units with fewer than two values are not
// pairable and are ignored. ok is false when alpha is undefined: fewer
// than two pairable values, or no expected disagreement at all (every
// value the same).
//
// α = 1 − D_o/D_e, with the observed disagreement D_o from the coincidence
// matrix o_ck = Σ_u (pairs c–k in u)/(m_u − 1) and the expected
// disagreement D_e from its marginals n_c (Krippendorff 2011, "Computing
// Krippendorff's Alpha-Reliability").
func Alpha(units [][]float64, metric Metric) (alpha float64, ok bool) {
	// Distinct values, so the coincidence matrix is small and dense.
	var vals []float64
	for _, u := range units {
		if len(u) < 2 {
			continue
		}
		vals = append(vals, u...)
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	idx := make(map[float64]int, len(vals))
	for i, v := range vals {
		idx[v] = i
	}
	k := len(vals)
	o := make([]float64, k*k)
	counts := make([]int, k)
	for _, u := range units {
		m := len(u)
		if m < 2 {
			continue
		}
		clear(counts)
		for _, v := range u {
			counts[idx[v]]++
		}
		w := 1 / float64(m-1)
		for c := range k {
			if counts[c] == 0 {
				continue
			}
			for d := range k {
				pairs := counts[c] * counts[d]
				if c == d {
					pairs = counts[c] * (counts[c] - 1)
				}
				o[c*k+d] += float64(pairs) * w
			}
		}
	}
	n := 0.0
	nc := make([]float64, k)
	for c := range k {
		for d := range k {
			nc[c] += o[c*k+d]
		}
		n += nc[c]
	}
	if n < 2 {
		return 0, false
	}
	var do, de float64
	for c := range k {
		for d := range k {
			delta := metric(vals[c], vals[d])
			do += o[c*k+d] * delta
			de += nc[c] * nc[d] * delta
		}
	}
	do /= n
	de /= n * (n - 1)
	if de == 0 {
		return 0, false
	}
	return 1 - do/de, true
}

// Codes turns units of comparable answers (labels, texts) into numeric
// codes for Alpha with the Nominal metric: equal answers get equal codes.
func Codes[T cmp.Ordered](units [][]T) [][]float64 {
	code := map[T]float64{}
	out := make([][]float64, len(units))
	for i, u := range units {
		out[i] = make([]float64, len(u))
		for j, v := range u {
			c, seen := code[v]
			if !seen {
				c = float64(len(code))
				code[v] = c
			}
			out[i][j] = c
		}
	}
	return out
}

// Rate is one labeler's agreement with the consensus.
type Rate struct {
	Labeler string
	Agreed  int     // answers equal to the item's consensus
	Total   int     // answers on items that have a consensus
	Share   float64 // Agreed / Total, NaN when Total is 0
}

// Answer is one labeler's answer to one item.
type Answer[T comparable] struct {
	Item    int64
	Labeler string
	Value   T
}

// LabelerAgreement measures, for every labeler, how often their answer
// equals the consensus of the item; items missing from consensus are not
// counted. The result is sorted by labeler.
func LabelerAgreement[T comparable](answers []Answer[T], consensus map[int64]T) []Rate {
	by := map[string]*Rate{}
	for _, a := range answers {
		want, ok := consensus[a.Item]
		if !ok {
			continue
		}
		r := by[a.Labeler]
		if r == nil {
			r = &Rate{Labeler: a.Labeler}
			by[a.Labeler] = r
		}
		r.Total++
		if a.Value == want {
			r.Agreed++
		}
	}
	out := make([]Rate, 0, len(by))
	for _, r := range by {
		r.Share = math.NaN()
		if r.Total > 0 {
			r.Share = float64(r.Agreed) / float64(r.Total)
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Rate) int { return cmp.Compare(a.Labeler, b.Labeler) })
	return out
}
