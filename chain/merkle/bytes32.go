package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Bytes32LeafHash is the StandardMerkleTree leaf hash for the leaf type
// ["bytes32"]: keccak256(bytes.concat(keccak256(abi.encode(v)))). The ABI
// encoding of a bytes32 is the 32 bytes themselves.
func Bytes32LeafHash(v common.Hash) common.Hash {
	inner := crypto.Keccak256(v[:])
	return crypto.Keccak256Hash(inner)
}

// NewBytes32 builds a StandardMerkleTree over bytes32 values (a Datanet
// version's record hashes), byte-for-byte compatible with
// StandardMerkleTree.of(values.map(v => [v]), ["bytes32"]) from
// @openzeppelin/merkle-tree. Proof(i) and LeafHashAt(i) refer to values[i].
// Like OpenZeppelin's tree it accepts repeated values; callers that need
// uniqueness check it themselves.
func NewBytes32(values []common.Hash) (*Tree, error) {
	n := len(values)
	if n == 0 {
		return nil, errors.New("merkle: no leaves")
	}
	if n > (1<<30)-1 {
		return nil, fmt.Errorf("merkle: %d leaves is too many", n)
	}
	hashes := make([]common.Hash, n)
	hashBytes32Leaves(values, hashes)
	return buildParallel(hashes), nil
}

// buildParallel lays the tree out exactly as build does, but sorts the
// leaves directly (not through an index) and hashes each level of inner
// nodes on all CPUs with one reused Keccak state per worker: build spends
// most of its time allocating a hasher per inner node.
func buildParallel(hashes []common.Hash) *Tree {
	n := len(hashes)
	type entry struct {
		h   common.Hash
		idx int32
	}
	sorted := make([]entry, n)
	for i := range hashes {
		sorted[i] = entry{hashes[i], int32(i)}
	}
	slices.SortFunc(sorted, func(a, b entry) int { return bytes.Compare(a.h[:], b.h[:]) })

	t := &Tree{nodes: make([]common.Hash, 2*n-1), pos: make([]int32, n)}
	last := len(t.nodes) - 1
	for sortedIdx, e := range sorted {
		node := last - sortedIdx
		t.nodes[node] = e.h
		t.pos[e.idx] = int32(node)
	}
	sorted = nil

	// Inner nodes are 0..n-2. Level d holds nodes [2^d-1, 2^(d+1)-1); every
	// node depends only on higher indices, so a level can be hashed in
	// parallel once the levels below it are done.
	inner := n - 1
	workers := runtime.GOMAXPROCS(0)
	for d := bits.Len(uint(inner)) - 1; d >= 0; d-- {
		lo, hi := (1<<d)-1, min((1<<(d+1))-1, inner)
		if lo >= hi {
			continue
		}
		w := workers
		if hi-lo < 4096 {
			w = 1
		}
		chunk := (hi - lo + w - 1) / w
		var wg sync.WaitGroup
		for k := range w {
			a, b := lo+k*chunk, min(lo+(k+1)*chunk, hi)
			if a >= b {
				continue
			}
			wg.Go(func() {
				h := crypto.NewKeccakState()
				var buf [64]byte
				for i := a; i < b; i++ {
					l, r := &t.nodes[2*i+1], &t.nodes[2*i+2]
					if bytes.Compare(l[:], r[:]) > 0 {
						l, r = r, l
					}
					copy(buf[:32], l[:])
					copy(buf[32:], r[:])
					h.Reset()
					h.Write(buf[:])
					h.Read(t.nodes[i][:])
				}
			})
		}
		wg.Wait()
	}
	return t
}

// hashBytes32Leaves computes the double Keccak-256 of every value on all
// CPUs, reusing one hasher per worker: for a million records this is two
// thirds of the hashing work of the tree.
func hashBytes32Leaves(values, out []common.Hash) {
	workers := runtime.GOMAXPROCS(0)
	if len(values) < 4096 || workers < 2 {
		workers = 1
	}
	chunk := (len(values) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(values))
		if lo >= hi {
			continue
		}
		wg.Go(func() {
			h := crypto.NewKeccakState()
			var inner common.Hash
			for i := lo; i < hi; i++ {
				h.Reset()
				h.Write(values[i][:])
				h.Read(inner[:])
				h.Reset()
				h.Write(inner[:])
				h.Read(out[i][:])
			}
		})
	}
	wg.Wait()
}

// HexRoot is the root over 0x-hex bytes32 values (a Datanet version's
// record hashes), as a 0x-hex string.
func HexRoot(values []string) (string, error) {
	t, err := NewBytes32(HexValues(values))
	if err != nil {
		return "", err
	}
	return t.Root().Hex(), nil
}

// HexValues parses 0x-hex bytes32 values.
func HexValues(values []string) []common.Hash {
	out := make([]common.Hash, len(values))
	for i, v := range values {
		out[i] = common.HexToHash(v)
	}
	return out
}
