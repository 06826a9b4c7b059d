package trainer

import "golang.org/x/sys/cpu"

// Vectorised exp and GELU (AVX2+FMA, 8 lanes; vec_amd64.s). They process a
// multiple of 8 elements; callers finish the tail in Go.

//go:noescape
func expSumAVX2(dst, src *float32, n int, shift float32) float32

//go:noescape
func geluFwdAVX2(out, inp *float32, n int)

//go:noescape
func geluBwdAVX2(dinp, inp, dout *float32, n int)

var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expSum sets dst[i] = exp(src[i]-shift) and returns their sum.
func expSum(dst, src []float32, shift float32) float32 {
	n := len(src)
	dst = dst[:n]
	var sum float32
	done := 0
	if haveAVX2 && n >= 8 {
		done = n &^ 7
		sum = expSumAVX2(&dst[0], &src[0], done, shift)
	}
	for i := done; i < n; i++ {
		e := expf(src[i] - shift)
		dst[i] = e
		sum += e
	}
	return sum
}

func geluFwdVec(out, inp []float32) int {
	n := len(inp) &^ 7
	if !haveAVX2 || n == 0 {
		return 0
	}
	_ = out[n-1]
	geluFwdAVX2(&out[0], &inp[0], n)
	return n
}

func geluBwdVec(dinp, inp, dout []float32) int {
	n := len(inp) &^ 7
	if !haveAVX2 || n == 0 {
		return 0
	}
	_, _ = dinp[n-1], dout[n-1]
	geluBwdAVX2(&dinp[0], &inp[0], &dout[0], n)
	return n
}
