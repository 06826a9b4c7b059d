package merkle

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// bytes32Values are the record-hash-like values of the vectors below:
// sha256("record " + i).
func bytes32Values(n int) []common.Hash {
	v := make([]common.Hash, n)
	for i := range v {
		v[i] = sha256.Sum256(fmt.Appendf(nil, "record %d", i))
	}
	return v
}

// Vectors from @openzeppelin/merkle-tree 1.0.8:
//
//	const values = []; for (let i = 0; i < n; i++)
//	  values.push(['0x' + crypto.createHash('sha256').update('record ' + i).digest('hex')]);
//	const tree = StandardMerkleTree.of(values, ['bytes32']);
//	// tree.root, tree.getProof(n - 1)
var bytes32Vectors = []struct {
	n         int
	root      string
	proofLast []string
}{
	{1, "0xe99addac328023c58f09190fa34a9b7476b1e90670666e46bb0f3188c40a4bb3", []string{}},
	{2, "0x8176517fa9e70257662853e2897aa91549b83002043501a2dd7eaf6ebf3b1fb7", []string{"0xe99addac328023c58f09190fa34a9b7476b1e90670666e46bb0f3188c40a4bb3"}},
	{3, "0x7071fa5352306ab8e2e546b8d29ec589cc10a926355a667eab840a597d6bd699", []string{"0x6e526ed4b2497ecd3a73e7f0f318227bf1acd6c90d29cf8fd214241d329d8a2c", "0xe99addac328023c58f09190fa34a9b7476b1e90670666e46bb0f3188c40a4bb3"}},
	{5, "0xa23057d75a2c013798dba60de21d1b1dabcf26a1ec28f27681d3dac76843861c", []string{"0x6e526ed4b2497ecd3a73e7f0f318227bf1acd6c90d29cf8fd214241d329d8a2c", "0xe99addac328023c58f09190fa34a9b7476b1e90670666e46bb0f3188c40a4bb3", "0xf4b3907597a440a982189911c95b292ab501246cf649c33e5afa703f8a42a501"}},
	{8, "0x2ef1f8b38a5c9b29dc995d791744b8f7d20c2de9dc1eb99b04ef58735352b67b", []string{"0x6e526ed4b2497ecd3a73e7f0f318227bf1acd6c90d29cf8fd214241d329d8a2c", "0x6260d3b998e47d7f9f5dac96bacd03f442d494a3b8c16396caa43fb1238bbec1", "0x17e67e20d71bad2b159acf1be810ffe1437aba13e0d1d366644a189285ad693f"}},
	{13, "0x9c692c5fb664ed81213db996cfe87c4a4db58a48b0bfbf2ed833304eb4364902", []string{"0xc494248d35a879794d71d900d620fefee90adc6e82e1d922e99c7e0727ed0ee6", "0xa6b747bf0c531efefaf4ef64017ab3cc30462f36d654e683d9a777245172e042", "0x02d2574a5284813e5eddcef750a836cebe65a39297aa053ebfb88aa2cf1aa937", "0x27aeb0537e8ba5d34da2c8d68a55a164604e5756e1947f9eaea6b7eff81c6096"}},
	{100, "0x3cc70afd43f5107e4968ae4e890c339e5a6283e2aa8815828c568d74de96b08e", []string{"0xc112c663b4d9c060deedc71a9621a40e164bef4ed1cf4c751d08a1d1b74cdbcf", "0x9f734e442bf34bcfff514c50b17e36674672dcab8245cff4cb0f91e0e842765d", "0x711235180f6a4d64042d7f4172227dee8debe6f11926747c9b551cc2e6da4ab5", "0xac5d9ce3a641d523f986a49cfcf0668f9e9279d847498dcaddf099f7f333cbd5", "0xb2230dac220c06570501ab3a190ed46dfe5cefa3df0973c12fe6225116e4f9e8", "0x6b7a7459dcbccaf6eac42d784b77102540f1f860a1ad4d9c157c44a719d719d4"}},
}

func TestBytes32MatchesOpenZeppelin(t *testing.T) {
	t.Parallel()
	for _, v := range bytes32Vectors {
		values := bytes32Values(v.n)
		tree, err := NewBytes32(values)
		if err != nil {
			t.Fatalf("n=%d: %v", v.n, err)
		}
		if got := tree.Root().Hex(); got != v.root {
			t.Errorf("n=%d: root %s, OpenZeppelin %s", v.n, got, v.root)
		}
		proof, err := tree.Proof(v.n - 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(proof) != len(v.proofLast) {
			t.Fatalf("n=%d: proof length %d, OpenZeppelin %d", v.n, len(proof), len(v.proofLast))
		}
		for i := range proof {
			if proof[i].Hex() != v.proofLast[i] {
				t.Errorf("n=%d: proof[%d] %s, OpenZeppelin %s", v.n, i, proof[i].Hex(), v.proofLast[i])
			}
		}
		for i := range values {
			p, _ := tree.Proof(i)
			leaf, _ := tree.LeafHashAt(i)
			if leaf != Bytes32LeafHash(values[i]) {
				t.Fatalf("n=%d: LeafHashAt(%d) differs from Bytes32LeafHash", v.n, i)
			}
			if !Verify(tree.Root(), leaf, p) {
				t.Errorf("n=%d: proof of leaf %d does not verify", v.n, i)
			}
		}
	}
}

// naiveRoot is an independent reference: the OpenZeppelin layout computed
// level by level from the sorted leaves, without the array trick.
func naiveRoot(values []common.Hash) common.Hash {
	leaves := make([]common.Hash, len(values))
	for i, v := range values {
		leaves[i] = crypto.Keccak256Hash(crypto.Keccak256(v[:]))
	}
	slices.SortFunc(leaves, func(a, b common.Hash) int { return bytes.Compare(a[:], b[:]) })
	// The array layout is a complete tree with sorted leaves at the end in
	// reverse order; rebuild it explicitly.
	n := len(leaves)
	nodes := make([]common.Hash, 2*n-1)
	for i, l := range leaves {
		nodes[len(nodes)-1-i] = l
	}
	for i := n - 2; i >= 0; i-- {
		a, b := nodes[2*i+1], nodes[2*i+2]
		if bytes.Compare(a[:], b[:]) > 0 {
			a, b = b, a
		}
		nodes[i] = crypto.Keccak256Hash(a[:], b[:])
	}
	return nodes[0]
}

func TestBytes32MatchesNaive(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 7, 64, 1000, 5000} {
		values := bytes32Values(n)
		tree, err := NewBytes32(values)
		if err != nil {
			t.Fatal(err)
		}
		if tree.Root() != naiveRoot(values) {
			t.Errorf("n=%d: root differs from the naive reference", n)
		}
	}
}

func TestBytes32Rejects(t *testing.T) {
	t.Parallel()
	if _, err := NewBytes32(nil); err == nil {
		t.Error("empty tree accepted")
	}
	values := bytes32Values(10)
	tree, _ := NewBytes32(values)
	p, _ := tree.Proof(3)
	leaf := Bytes32LeafHash(values[3])
	if Verify(tree.Root(), Bytes32LeafHash(values[4]), p) {
		t.Error("proof of leaf 3 verified leaf 4")
	}
	// The single hash (not the double) must not verify: that is what stops
	// second-preimage attacks with inner nodes.
	if Verify(tree.Root(), crypto.Keccak256Hash(values[3][:]), p) {
		t.Error("single-hashed leaf verified")
	}
	bad := slices.Clone(p)
	bad[0][0] ^= 1
	if Verify(tree.Root(), leaf, bad) {
		t.Error("tampered proof verified")
	}
	if _, err := tree.Proof(10); err == nil {
		t.Error("out-of-range proof index accepted")
	}
}

func BenchmarkNewBytes32_1M(b *testing.B) {
	values := bytes32Values(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := NewBytes32(values); err != nil {
			b.Fatal(err)
		}
	}
}
