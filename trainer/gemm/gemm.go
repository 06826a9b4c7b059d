// Package gemm implements the single-precision matrix multiply that the
// trainer spends almost all of its time in.
//
// The algorithm is the classic GotoBLAS/BLIS blocking: B is packed into
// KC×NR panels that stay in L1, A into MR×KC panels that stay in L2, and a
// register-blocked micro-kernel (Go assembly using AVX2+FMA or AVX-512 where
// the CPU has it, detected at run time; portable Go otherwise) accumulates an
// MR×NR tile of C. Transposed operands are handled while packing, so the three
// products a linear layer needs (x·Wᵀ, dY·W, dYᵀ·X) share one kernel.
package gemm

// Block sizes. KC×NR floats of packed B (16 KiB at KC=256) stay in L1 while
// an MC×KC block of packed A (96 KiB) stays in L2.
const (
	kc = 256
	mc = 96
	nc = 1024
)

// kernelFunc computes c[0:mr, 0:nr] += a·b for a packed mr×k panel a and a
// packed k×nr panel b; c has row stride ldc.
type kernelFunc func(k int, a, b, c []float32, ldc int)

// impl describes the micro-kernel in use.
type impl struct {
	name   string
	mr, nr int
	kernel kernelFunc
}

// Workspace holds the packing buffers of one sequential GEMM. It is not safe
// for concurrent use; give each goroutine its own.
type Workspace struct {
	impl  impl
	packA []float32
	packB []float32
	tile  []float32
	// scratch is per-worker memory for callers of Pool.For (attention score
	// matrices); it grows once and is then reused.
	scratch []float32
}

// Scratch returns n floats of worker-private memory, valid until the next call.
func (w *Workspace) Scratch(n int) []float32 {
	if cap(w.scratch) < n {
		w.scratch = make([]float32, n)
	}
	return w.scratch[:n]
}

// NewWorkspace returns a workspace using the fastest kernel this CPU supports.
func NewWorkspace() *Workspace { return newWorkspace(bestImpl()) }

func newWorkspace(im impl) *Workspace {
	return &Workspace{
		impl:  im,
		packA: make([]float32, (mc+im.mr)*kc),
		packB: make([]float32, kc*(nc+im.nr)),
		tile:  make([]float32, im.mr*im.nr),
	}
}

// Kernel reports the name of the micro-kernel in use ("avx512", "avx2", "go").
func (w *Workspace) Kernel() string { return w.impl.name }

// Sgemm computes C = beta·C + op(A)·op(B) on row-major matrices, where op(A)
// is m×k (A itself when !transA, else Aᵀ with A stored k×m) and op(B) is k×n
// (B itself when !transB, else Bᵀ with B stored n×k). lda, ldb and ldc are
// row strides. beta must be 0 (overwrite) or 1 (accumulate); other values
// scale C first.
func (w *Workspace) Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k <= 0 {
		return
	}
	mr, nr := w.impl.mr, w.impl.nr
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packB(transB, b, ldb, pc, jc, kb, nb, nr, w.packB)
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(transA, a, lda, ic, pc, mb, kb, mr, w.packA)
				w.macro(mb, nb, kb, c[ic*ldc+jc:], ldc)
			}
		}
	}
}

// macro multiplies a packed mb×kb block of A by a packed kb×nb block of B into c.
func (w *Workspace) macro(mb, nb, kb int, c []float32, ldc int) {
	mr, nr := w.impl.mr, w.impl.nr
	kern := w.impl.kernel
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		bp := w.packB[jr*kb : jr*kb+kb*nr]
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			ap := w.packA[ir*kb : ir*kb+kb*mr]
			if mm == mr && nn == nr {
				kern(kb, ap, bp, c[ir*ldc+jr:], ldc)
				continue
			}
			// Edge tile: compute into a scratch tile, add the valid part.
			t := w.tile
			clear(t)
			kern(kb, ap, bp, t, nr)
			for i := 0; i < mm; i++ {
				row := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nn]
				tr := t[i*nr : i*nr+nn]
				for j := range row {
					row[j] += tr[j]
				}
			}
		}
	}
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	switch beta {
	case 1:
		return
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// packA copies op(A)[ic:ic+mb, pc:pc+kb] into mr-row panels laid out
// k-major: panel p holds, for each k, mr consecutive rows. Rows past mb are zero.
func packA(trans bool, a []float32, lda, ic, pc, mb, kb, mr int, dst []float32) {
	for ir := 0; ir < mb; ir += mr {
		mm := min(mr, mb-ir)
		d := dst[ir*kb : ir*kb+kb*mr]
		if !trans {
			for i := 0; i < mm; i++ {
				src := a[(ic+ir+i)*lda+pc : (ic+ir+i)*lda+pc+kb]
				for p, v := range src {
					d[p*mr+i] = v
				}
			}
		} else {
			for p := 0; p < kb; p++ {
				src := a[(pc+p)*lda+ic+ir : (pc+p)*lda+ic+ir+mm]
				copy(d[p*mr:p*mr+mm], src)
			}
		}
		if mm < mr {
			for p := 0; p < kb; p++ {
				clear(d[p*mr+mm : p*mr+mr])
			}
		}
	}
}

// packB copies op(B)[pc:pc+kb, jc:jc+nb] into nr-column panels laid out
// k-major: panel q holds, for each k, nr consecutive columns. Columns past nb are zero.
func packB(trans bool, b []float32, ldb, pc, jc, kb, nb, nr int, dst []float32) {
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		d := dst[jr*kb : jr*kb+kb*nr]
		if !trans {
			for p := 0; p < kb; p++ {
				src := b[(pc+p)*ldb+jc+jr : (pc+p)*ldb+jc+jr+nn]
				copy(d[p*nr:p*nr+nn], src)
			}
		} else {
			for j := 0; j < nn; j++ {
				src := b[(jc+jr+j)*ldb+pc : (jc+jr+j)*ldb+pc+kb]
				for p, v := range src {
					d[p*nr+j] = v
				}
			}
		}
		if nn < nr {
			for p := 0; p < kb; p++ {
				clear(d[p*nr+nn : p*nr+nr])
			}
		}
	}
}

// kernelGo is the portable micro-kernel (4×8).
func kernelGo(k int, a, b, c []float32, ldc int) {
	var acc [4][8]float32
	a = a[:k*4]
	b = b[:k*8]
	for p := 0; p < k; p++ {
		ap := a[p*4 : p*4+4 : p*4+4]
		bp := b[p*8 : p*8+8 : p*8+8]
		for i := 0; i < 4; i++ {
			ai := ap[i]
			r := &acc[i]
			r[0] += ai * bp[0]
			r[1] += ai * bp[1]
			r[2] += ai * bp[2]
			r[3] += ai * bp[3]
			r[4] += ai * bp[4]
			r[5] += ai * bp[5]
			r[6] += ai * bp[6]
			r[7] += ai * bp[7]
		}
	}
	for i := 0; i < 4; i++ {
		row := c[i*ldc : i*ldc+8]
		for j := range row {
			row[j] += acc[i][j]
		}
	}
}

var goImpl = impl{name: "go", mr: 4, nr: 8, kernel: kernelGo}
