//go:build !amd64

package gemm

func bestImpl() impl { return goImpl }

func impls() []impl { return []impl{goImpl} }
