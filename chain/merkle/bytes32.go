package merkle

import (
	"errors"
	"fmt"
	"runtime"
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
	return build(hashes), nil
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
