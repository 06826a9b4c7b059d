package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func kernelAVX2(k int, a, b, c *float32, ldc int)

//go:noescape
func kernelAVX512(k int, a, b, c *float32, ldc int)

var avx2Impl = impl{name: "avx2", mr: 6, nr: 16, kernel: func(k int, a, b, c []float32, ldc int) {
	// Bounds are checked here so the assembly can trust its pointers.
	_ = a[k*6-1]
	_ = b[k*16-1]
	_ = c[5*ldc+15]
	kernelAVX2(k, &a[0], &b[0], &c[0], ldc)
}}

var avx512Impl = impl{name: "avx512", mr: 12, nr: 32, kernel: func(k int, a, b, c []float32, ldc int) {
	_ = a[k*12-1]
	_ = b[k*32-1]
	_ = c[11*ldc+31]
	kernelAVX512(k, &a[0], &b[0], &c[0], ldc)
}}

func bestImpl() impl {
	switch {
	case cpu.X86.HasAVX512F:
		return avx512Impl
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return avx2Impl
	}
	return goImpl
}

// impls lists every kernel this CPU can run, for tests and benchmarks.
func impls() []impl {
	out := []impl{goImpl}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		out = append(out, avx2Impl)
	}
	if cpu.X86.HasAVX512F {
		out = append(out, avx512Impl)
	}
	return out
}
