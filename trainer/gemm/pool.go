package gemm

import (
	"fmt"
	"runtime"
	"sync"
)

// Pool runs GEMMs and loops on a fixed set of goroutines, each with its own
// Workspace, so that steady-state training allocates nothing for them.
// A Pool must be used by one goroutine at a time; Close stops its workers.
type Pool struct {
	ws    []*Workspace
	jobs  chan job
	wg    sync.WaitGroup
	close sync.Once
}

type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

type job struct {
	gemm   gemmArgs
	fn     func(ws *Workspace, lo, hi int)
	lo, hi int
}

// NewPool starts a pool of n workers (n <= 0 means runtime.GOMAXPROCS(0))
// using the fastest kernel the CPU supports. The calling goroutine counts
// as one worker.
func NewPool(n int) *Pool {
	p, _ := NewPoolKernel(n, "")
	return p
}

// Kernels lists the micro-kernels this CPU can run, slowest first.
func Kernels() []string {
	var out []string
	for _, im := range impls() {
		out = append(out, im.name)
	}
	return out
}

// NewPoolKernel is NewPool with a named micro-kernel ("go", "avx2",
// "avx512"; "" for the fastest), for benchmarks and comparisons.
func NewPoolKernel(n int, kernel string) (*Pool, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	im := bestImpl()
	if kernel != "" {
		found := false
		for _, c := range impls() {
			if c.name == kernel {
				im, found = c, true
			}
		}
		if !found {
			return nil, fmt.Errorf("gemm: kernel %q not available on this CPU (have %v)", kernel, Kernels())
		}
	}
	p := &Pool{jobs: make(chan job, n)}
	for i := 0; i < n; i++ {
		p.ws = append(p.ws, newWorkspace(im))
	}
	for i := 1; i < n; i++ {
		go p.worker(p.ws[i])
	}
	return p, nil
}

// Threads reports how many goroutines share the work.
func (p *Pool) Threads() int { return len(p.ws) }

// Kernel reports the micro-kernel in use.
func (p *Pool) Kernel() string { return p.ws[0].Kernel() }

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.close.Do(func() { close(p.jobs) })
}

func (p *Pool) worker(ws *Workspace) {
	for j := range p.jobs {
		j.run(ws)
		p.wg.Done()
	}
}

func (j *job) run(ws *Workspace) {
	if j.fn != nil {
		j.fn(ws, j.lo, j.hi)
		return
	}
	g := &j.gemm
	ws.Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc)
}

// Sgemm is Workspace.Sgemm split across the pool's workers by rows or
// columns of C.
func (p *Pool) Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	t := len(p.ws)
	flops := 2 * m * n * k
	if t == 1 || flops < 1<<18 {
		p.ws[0].Sgemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mr, nr := p.ws[0].impl.mr, p.ws[0].impl.nr
	var parts [16]job
	cnt := 0
	if n >= m || m < mr*t {
		chunk := roundUp((n+t-1)/t, nr)
		for j0 := 0; j0 < n && cnt < len(parts); j0 += chunk {
			nn := min(chunk, n-j0)
			boff := j0
			if transB {
				boff = j0 * ldb
			}
			parts[cnt] = job{gemm: gemmArgs{transA, transB, m, nn, k, a, lda, b[boff:], ldb, beta, c[j0:], ldc}}
			cnt++
		}
	} else {
		chunk := roundUp((m+t-1)/t, mr)
		for i0 := 0; i0 < m && cnt < len(parts); i0 += chunk {
			mm := min(chunk, m-i0)
			aoff := i0 * lda
			if transA {
				aoff = i0
			}
			parts[cnt] = job{gemm: gemmArgs{transA, transB, mm, n, k, a[aoff:], lda, b, ldb, beta, c[i0*ldc:], ldc}}
			cnt++
		}
	}
	p.dispatch(parts[:cnt])
}

// For runs fn over [0, n) split into one contiguous range per worker.
// fn receives the worker's Workspace so it may run sequential GEMMs.
func (p *Pool) For(n int, fn func(ws *Workspace, lo, hi int)) {
	t := min(len(p.ws), n)
	if t <= 1 {
		if n > 0 {
			fn(p.ws[0], 0, n)
		}
		return
	}
	var parts [16]job
	cnt := 0
	chunk := (n + t - 1) / t
	for lo := 0; lo < n && cnt < len(parts); lo += chunk {
		parts[cnt] = job{fn: fn, lo: lo, hi: min(n, lo+chunk)}
		cnt++
	}
	p.dispatch(parts[:cnt])
}

func (p *Pool) dispatch(parts []job) {
	p.wg.Add(len(parts) - 1)
	for i := 1; i < len(parts); i++ {
		p.jobs <- parts[i]
	}
	parts[0].run(p.ws[0])
	p.wg.Wait()
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }
