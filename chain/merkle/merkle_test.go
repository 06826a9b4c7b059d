package merkle

import (
	"encoding/binary"
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

type vectorCase struct {
	Root   common.Hash `json:"root"`
	Leaves []struct {
		Account common.Address `json:"account"`
		Amount  string         `json:"amount"`
		Proof   []common.Hash  `json:"proof"`
	} `json:"leaves"`
}

// TestMatchesOpenZeppelinStandardMerkleTree checks roots and proofs against
// vectors produced by @openzeppelin/merkle-tree (testdata/gen.js).
func TestMatchesOpenZeppelinStandardMerkleTree(t *testing.T) {
	data, err := os.ReadFile("testdata/standard_tree.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []vectorCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 7 {
		t.Fatalf("got %d vector cases", len(cases))
	}
	for _, c := range cases {
		leaves := make([]Leaf, len(c.Leaves))
		for i, l := range c.Leaves {
			amount, ok := new(big.Int).SetString(l.Amount, 10)
			if !ok {
				t.Fatalf("bad amount %q", l.Amount)
			}
			leaves[i] = Leaf{Account: l.Account, Amount: amount}
		}
		tree, err := New(leaves)
		if err != nil {
			t.Fatal(err)
		}
		if tree.Root() != c.Root {
			t.Fatalf("%d leaves: root %s, OpenZeppelin %s", len(leaves), tree.Root(), c.Root)
		}
		for i, l := range c.Leaves {
			proof, err := tree.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			if len(proof) != len(l.Proof) {
				t.Fatalf("%d leaves, leaf %d: proof length %d, OpenZeppelin %d", len(leaves), i, len(proof), len(l.Proof))
			}
			for j := range proof {
				if proof[j] != l.Proof[j] {
					t.Fatalf("%d leaves, leaf %d: proof[%d] %s, OpenZeppelin %s", len(leaves), i, j, proof[j], l.Proof[j])
				}
			}
			leaf, _ := tree.LeafHashAt(i)
			if !Verify(c.Root, leaf, proof) {
				t.Fatalf("%d leaves, leaf %d: proof does not verify", len(leaves), i)
			}
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	leaves := testLeaves(10)
	tree, err := New(leaves)
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := tree.Proof(3)
	leaf3, _ := tree.LeafHashAt(3)
	leaf4, _ := tree.LeafHashAt(4)
	if !Verify(tree.Root(), leaf3, proof) {
		t.Fatal("valid proof rejected")
	}
	if Verify(tree.Root(), leaf4, proof) {
		t.Fatal("proof accepted for another leaf")
	}
	wrongAmount, _ := LeafHash(leaves[3].Account, new(big.Int).Add(leaves[3].Amount, big.NewInt(1)))
	if Verify(tree.Root(), wrongAmount, proof) {
		t.Fatal("proof accepted for a larger amount")
	}
	if Verify(tree.Root(), leaf3, proof[:len(proof)-1]) {
		t.Fatal("truncated proof accepted")
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	a := common.HexToAddress("0x01")
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	for name, leaves := range map[string][]Leaf{
		"empty":     nil,
		"duplicate": {{a, big.NewInt(1)}, {a, big.NewInt(2)}},
		"negative":  {{a, big.NewInt(-1)}},
		"nil":       {{a, nil}},
		"2^256":     {{a, tooBig}},
	} {
		if _, err := New(leaves); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
	tree, _ := New(testLeaves(3))
	if _, err := tree.Proof(3); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Proof(3) of 3 leaves: err = %v", err)
	}
	if _, err := tree.Proof(-1); err == nil {
		t.Error("Proof(-1): want error")
	}
}

func testLeaves(n int) []Leaf {
	leaves := make([]Leaf, n)
	for i := range leaves {
		var a common.Address
		binary.BigEndian.PutUint64(a[12:], uint64(i)*0x9e3779b97f4a7c15+1)
		leaves[i] = Leaf{Account: a, Amount: new(big.Int).Mul(big.NewInt(int64(i+1)), big.NewInt(1e15))}
	}
	return leaves
}

// BenchmarkNew1M builds a tree over one million accounts and derives every
// proof, the core of closing a reward epoch.
func BenchmarkNew1M(b *testing.B) {
	leaves := testLeaves(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		tree, err := New(leaves)
		if err != nil {
			b.Fatal(err)
		}
		for i := range tree.Len() {
			if _, err := tree.Proof(i); err != nil {
				b.Fatal(err)
			}
		}
	}
}
