// Package merkle builds Merkle trees over (account, cumulativeAmount) leaves
// that are byte-for-byte compatible with OpenZeppelin's StandardMerkleTree
// for the leaf encoding ["address","uint256"], so roots and proofs verify
// with OpenZeppelin's MerkleProof in the RewardsDistributor contract.
//
// Layout, as in @openzeppelin/merkle-tree: leaf hash =
// keccak256(keccak256(abi.encode(account, amount))); leaves are sorted by
// hash; the tree is a complete binary tree stored in an array of 2n-1 nodes
// with the sorted leaves at the end in reverse order; inner nodes hash their
// two children in ascending byte order.
package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Leaf is one account's cumulative amount, in wei.
type Leaf struct {
	Account common.Address
	Amount  *big.Int
}

// Tree is a StandardMerkleTree over Leaf values.
type Tree struct {
	nodes []common.Hash
	// pos[i] is the node index of input leaf i.
	pos []int32
}

// LeafHash is the StandardMerkleTree leaf hash of (account, amount):
// keccak256(bytes.concat(keccak256(abi.encode(account, amount)))).
// amount must be in [0, 2^256).
func LeafHash(account common.Address, amount *big.Int) (common.Hash, error) {
	if amount == nil || amount.Sign() < 0 || amount.BitLen() > 256 {
		return common.Hash{}, fmt.Errorf("merkle leaf %s: amount %v is not a uint256", account, amount)
	}
	var buf [64]byte
	copy(buf[12:32], account[:])
	amount.FillBytes(buf[32:64])
	inner := crypto.Keccak256(buf[:])
	return crypto.Keccak256Hash(inner), nil
}

// hashPair hashes two nodes in ascending byte order, as OpenZeppelin's
// MerkleProof (commutative Keccak-256) expects.
func hashPair(a, b common.Hash) common.Hash {
	var buf [64]byte
	if bytes.Compare(a[:], b[:]) <= 0 {
		copy(buf[:32], a[:])
		copy(buf[32:], b[:])
	} else {
		copy(buf[:32], b[:])
		copy(buf[32:], a[:])
	}
	return crypto.Keccak256Hash(buf[:])
}

// New builds the tree over leaves. It fails on an empty set, a duplicate
// account (a cumulative distributor has exactly one leaf per account) or an
// amount outside uint256.
func New(leaves []Leaf) (*Tree, error) {
	n := len(leaves)
	if n == 0 {
		return nil, errors.New("merkle: no leaves")
	}
	if n > (1<<30)-1 {
		return nil, fmt.Errorf("merkle: %d leaves is too many", n)
	}
	seen := make(map[common.Address]struct{}, n)
	for _, l := range leaves {
		if _, dup := seen[l.Account]; dup {
			return nil, fmt.Errorf("merkle: duplicate account %s", l.Account)
		}
		seen[l.Account] = struct{}{}
	}
	seen = nil

	hashes := make([]common.Hash, n)
	if err := hashLeaves(leaves, hashes); err != nil {
		return nil, err
	}
	return build(hashes), nil
}

// NewFromLeafHashes builds a tree with the same layout over leaf hashes
// computed by the caller (OpenZeppelin's SimpleMerkleTree), for leaf
// encodings other than StandardMerkleTree's (address, uint256).
func NewFromLeafHashes(hashes []common.Hash) (*Tree, error) {
	if len(hashes) == 0 {
		return nil, errors.New("merkle: no leaves")
	}
	if len(hashes) > (1<<30)-1 {
		return nil, fmt.Errorf("merkle: %d leaves is too many", len(hashes))
	}
	return build(slices.Clone(hashes)), nil
}

// build lays out the sorted leaves and hashes the inner nodes.
func build(hashes []common.Hash) *Tree {
	n := len(hashes)
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return bytes.Compare(hashes[a][:], hashes[b][:])
	})

	t := &Tree{nodes: make([]common.Hash, 2*n-1), pos: make([]int32, n)}
	last := len(t.nodes) - 1
	for sortedIdx, input := range order {
		node := last - sortedIdx
		t.nodes[node] = hashes[input]
		t.pos[input] = int32(node)
	}
	for i := last - n; i >= 0; i-- {
		t.nodes[i] = hashPair(t.nodes[2*i+1], t.nodes[2*i+2])
	}
	return t
}

// hashLeaves computes the leaf hashes on all CPUs: for a million accounts
// this is most of the work of building the tree.
func hashLeaves(leaves []Leaf, out []common.Hash) error {
	workers := runtime.GOMAXPROCS(0)
	if len(leaves) < 4096 || workers < 2 {
		workers = 1
	}
	chunk := (len(leaves) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(leaves))
		if lo >= hi {
			continue
		}
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				h, err := LeafHash(leaves[i].Account, leaves[i].Amount)
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = h
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Root is the tree's root.
func (t *Tree) Root() common.Hash { return t.nodes[0] }

// Len is the number of leaves.
func (t *Tree) Len() int { return len(t.pos) }

// Proof returns the proof of the i-th leaf given to New (input order),
// bottom-up, as MerkleProof.verify takes it.
func (t *Tree) Proof(i int) ([]common.Hash, error) {
	if i < 0 || i >= len(t.pos) {
		return nil, fmt.Errorf("merkle: leaf index %d out of range [0, %d)", i, len(t.pos))
	}
	proof := make([]common.Hash, 0, bits.Len32(uint32(t.pos[i])+1)-1)
	for node := int(t.pos[i]); node > 0; node = (node - 1) / 2 {
		sibling := node + 1
		if node%2 == 0 {
			sibling = node - 1
		}
		proof = append(proof, t.nodes[sibling])
	}
	return proof, nil
}

// LeafHashAt is the hash of the i-th leaf given to New.
func (t *Tree) LeafHashAt(i int) (common.Hash, error) {
	if i < 0 || i >= len(t.pos) {
		return common.Hash{}, fmt.Errorf("merkle: leaf index %d out of range [0, %d)", i, len(t.pos))
	}
	return t.nodes[t.pos[i]], nil
}

// Verify reports whether proof shows leaf under root, with the same rules
// as OpenZeppelin's MerkleProof.verify.
func Verify(root, leaf common.Hash, proof []common.Hash) bool {
	h := leaf
	for _, p := range proof {
		h = hashPair(h, p)
	}
	return h == root
}
