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

func TestVectorKernelsMatchScalar(t *testing.T) {
	n := 1003
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i%200)*0.87 - 85 + float32(i)*0.001 // within the kernels' clamp [-87.3, 88.3]
	}
	dst := make([]float32, n)
	sum := expSum(dst, src, 40)
	var want float64
	for i, v := range src {
		e := math.Exp(float64(v - 40))
		want += e
		if math.Abs(float64(dst[i])-e) > 4e-7*e+1e-37 {
			t.Fatalf("exp(%v) = %v, want %v", v-40, dst[i], e)
		}
	}
	if math.Abs(float64(sum)-want) > 1e-5*want {
		t.Fatalf("sum %v, want %v", sum, want)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i-n/2) * 0.013
	}
	out, dout, dinp := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range dout {
		dout[i] = 1
	}
	k := geluFwdVec(out, x)
	geluBwdVec(dinp, x, dout)
	for i := 0; i < k; i++ {
		xv := float64(x[i])
		th := math.Tanh(geluScale * (xv + 0.044715*xv*xv*xv))
		f := 0.5 * xv * (1 + th)
		g := 0.5*(1+th) + xv*0.5*(1-th*th)*geluScale*(1+3*0.044715*xv*xv)
		if math.Abs(float64(out[i])-f) > 1e-6 || math.Abs(float64(dinp[i])-g) > 2e-6 {
			t.Fatalf("gelu(%v) = %v/%v, want %v/%v", xv, out[i], dinp[i], f, g)
		}
	}
}
