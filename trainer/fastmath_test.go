package trainer

import (
	"math"
	"testing"
)

func TestExpfTanhf(t *testing.T) {
	for x := float32(-90); x < 88.5; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if want > 1e-37 && math.Abs(got-want) > 4e-7*want {
			t.Fatalf("expf(%v) = %v, want %v", x, got, want)
		}
		tw := math.Tanh(float64(x))
		if d := math.Abs(float64(tanhf(x)) - tw); d > 3e-7 {
			t.Fatalf("tanhf(%v) = %v, want %v", x, tanhf(x), tw)
		}
	}
}
