package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func naive(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = beta*c[i*ldc+j] + float32(s)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func TestSgemmMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {7, 5, 3}, {13, 33, 17}, {96, 64, 256}, {100, 130, 300}, {6, 16, 1}, {200, 1100, 70}, {37, 19, 600}}
	for _, im := range impls() {
		ws := newWorkspace(im)
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, beta := range []float32{0, 1} {
						lda, ldb, ldc := k+3, n+1, n+5
						if ta {
							lda = m + 2
						}
						if tb {
							ldb = k + 4
						}
						a := randSlice(r, max(m, k)*lda)
						b := randSlice(r, max(n, k)*ldb)
						c0 := randSlice(r, m*ldc)
						want := append([]float32(nil), c0...)
						got := append([]float32(nil), c0...)
						naive(ta, tb, m, n, k, a, lda, b, ldb, beta, want, ldc)
						ws.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, beta, got, ldc)
						assertClose(t, fmt.Sprintf("%s %v ta=%v tb=%v beta=%v", im.name, s, ta, tb, beta), want, got, k)
					}
				}
			}
		}
	}
}

func TestPoolSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := NewPool(3)
	defer p.Close()
	for _, s := range [][3]int{{512, 768, 256}, {300, 20, 100}, {20, 300, 100}, {5, 5, 5}} {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				a := randSlice(r, max(m, k)*lda)
				b := randSlice(r, max(n, k)*ldb)
				want := randSlice(r, m*n)
				got := append([]float32(nil), want...)
				naive(ta, tb, m, n, k, a, lda, b, ldb, 1, want, n)
				p.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, 1, got, n)
				assertClose(t, fmt.Sprintf("pool %v %v %v", s, ta, tb), want, got, k)
			}
		}
	}
	sum := make([]int, 100)
	p.For(100, func(ws *Workspace, lo, hi int) {
		for i := lo; i < hi; i++ {
			sum[i]++
		}
	})
	for i, v := range sum {
		if v != 1 {
			t.Fatalf("For visited %d %d times", i, v)
		}
	}
}

func assertClose(t *testing.T, name string, want, got []float32, k int) {
	t.Helper()
	tol := 1e-5 * float64(k+1)
	for i := range want {
		if d := math.Abs(float64(want[i] - got[i])); d > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// BenchmarkSgemm reports GFLOP/s for the linear-layer shapes of the tiny and
// small presets (M = batch·seq).
func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		ta, tb  bool
		m, n, k int
	}{
		{"fwd_512x768x256", false, true, 512, 768, 256},
		{"fwd_1024x1536x384", false, true, 1024, 1536, 384},
		{"lmhead_512x8192x256", false, true, 512, 8192, 256},
		{"dW_768x256x512", true, false, 768, 256, 512},
		{"dX_512x256x1024", false, false, 512, 256, 1024},
	}
	for _, s := range shapes {
		for _, kern := range Kernels() {
			for _, par := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", s.name, kern, par), func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, 1))
					p, err := NewPoolKernel(par, kern)
					if err != nil {
						b.Fatal(err)
					}
					defer p.Close()
					lda, ldb := s.k, s.n
					if s.ta {
						lda = s.m
					}
					if s.tb {
						ldb = s.k
					}
					a := randSlice(r, max(s.m, s.k)*lda)
					bb := randSlice(r, max(s.n, s.k)*ldb)
					c := make([]float32, s.m*s.n)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						p.Sgemm(s.ta, s.tb, s.m, s.n, s.k, a, lda, bb, ldb, 0, c, s.n)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
