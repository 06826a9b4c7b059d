package chain

import (
	"encoding/binary"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/chain/bindings/batchtransfer"
	"github.com/modelfactory/modelfactory/chain/bindings/referencedistributor"
	"github.com/modelfactory/modelfactory/chain/merkle"
)

// Gas report. Run with
//
//	go test -run '^$' -bench BenchmarkGas -benchtime 20x ./chain/
//
// Every figure is receipt gasUsed (transaction base cost, calldata and
// execution) on the simulated backend with Prague rules (pragueRules), read
// from the gas/tx metric; ns/op is irrelevant here. Trees have
// benchTreeSize accounts, about the size of Uniswap's UNI airdrop (251,534),
// so proofs are 17-18 hashes long as in that comparison.
const benchTreeSize = 250_000

// benchAccount is a synthetic account that has never held OPEN.
func benchAccount(i int) common.Address {
	var a common.Address
	a[0] = 0xbe
	binary.BigEndian.PutUint64(a[12:], uint64(i)+1)
	return a
}

// benchTotals gives every synthetic account a cumulative amount of
// (i%1000 + 1) OPEN plus extra.
func benchTree(b *testing.B, extra *big.Int) *epochTree {
	b.Helper()
	et := &epochTree{index: make(map[common.Address]int, benchTreeSize), leaves: make([]merkle.Leaf, benchTreeSize)}
	for i := range benchTreeSize {
		a := benchAccount(i)
		amt := new(big.Int).Add(wei(int64(i%1000+1)), extra)
		et.leaves[i] = merkle.Leaf{Account: a, Amount: amt}
		et.index[a] = i
	}
	tree, err := merkle.New(et.leaves)
	if err != nil {
		b.Fatal(err)
	}
	et.tree = tree
	return et
}

type gasMeter struct {
	total, n uint64
}

func (g *gasMeter) add(gas uint64) { g.total += gas; g.n++ }

func (g *gasMeter) report(b *testing.B, unit string) {
	if g.n > 0 {
		b.ReportMetric(float64(g.total)/float64(g.n), unit)
	}
}

func BenchmarkGasRootPost(b *testing.B) {
	e := newSimEnv(b)
	var first, later gasMeter
	epoch := uint64(0)
	for b.Loop() {
		epoch++
		root := crypto.Keccak256Hash(binary.BigEndian.AppendUint64(nil, epoch))
		r := e.mustSend(b, e.admin, e.d.RewardsDistributor, distABI.PackPostRoot(epoch, root, wei(1_000_000)))
		if epoch == 1 {
			first.add(r.GasUsed)
		} else {
			later.add(r.GasUsed)
		}
	}
	// The first root writes a zero slot; later epochs overwrite it.
	first.report(b, "gas-first-epoch")
	later.report(b, "gas/tx")
}

func BenchmarkGasFirstClaim(b *testing.B) {
	e := newSimEnv(b)
	et := benchTree(b, new(big.Int))
	if _, err := e.postRoot(b, e.admin, 1, et); err != nil {
		b.Fatal(err)
	}
	var g, proofLen gasMeter
	i := 0
	for b.Loop() {
		a := benchAccount(i)
		proof := et.proof(b, a)
		r, err := e.claim(b, e.stranger, a, et.leaves[i].Amount, proof)
		if err != nil {
			b.Fatal(err)
		}
		g.add(r.GasUsed)
		proofLen.add(uint64(len(proof)))
		i++
	}
	g.report(b, "gas/tx")
	proofLen.report(b, "proof-hashes")
}

func BenchmarkGasLaterClaim(b *testing.B) {
	e := newSimEnv(b)
	et1 := benchTree(b, new(big.Int))
	et2 := benchTree(b, wei(5))
	if _, err := e.postRoot(b, e.admin, 1, et1); err != nil {
		b.Fatal(err)
	}
	// Epoch 1 claims for the accounts about to claim again.
	for j := range b.N {
		a := benchAccount(j)
		if _, err := e.claim(b, e.stranger, a, et1.leaves[j].Amount, et1.proof(b, a)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := e.postRoot(b, e.admin, 2, et2); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var g, proofLen gasMeter
	for i := range b.N {
		a := benchAccount(i)
		proof := et2.proof(b, a)
		r, err := e.claim(b, e.stranger, a, et2.leaves[i].Amount, proof)
		if err != nil {
			b.Fatal(err)
		}
		g.add(r.GasUsed)
		proofLen.add(uint64(len(proof)))
	}
	g.report(b, "gas/tx")
	proofLen.report(b, "proof-hashes")
}

// BenchmarkGasReferenceClaim measures a Uniswap-style one-shot distributor
// (ReferenceMerkleDistributor) on the same token, tree size and rules, in
// its best case (the claimed-bitmap word already non-zero) and worst case
// (first claim in a bitmap word).
func BenchmarkGasReferenceClaim(b *testing.B) {
	for _, tc := range []struct {
		name   string
		stride int // leaf index step between claims
	}{
		{"SharedBitmapWord", 1},
		{"FreshBitmapWord", 256},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newSimEnv(b)
			ref := referencedistributor.NewReferenceMerkleDistributor()
			amounts := make([]*big.Int, benchTreeSize)
			hashes := make([]common.Hash, benchTreeSize)
			for i := range benchTreeSize {
				amounts[i] = wei(int64(i%1000 + 1))
				var packed [32 + 20 + 32]byte
				big.NewInt(int64(i)).FillBytes(packed[:32])
				a := benchAccount(i)
				copy(packed[32:52], a[:])
				amounts[i].FillBytes(packed[52:])
				hashes[i] = crypto.Keccak256Hash(packed[:])
			}
			tree, err := merkle.NewFromLeafHashes(hashes)
			if err != nil {
				b.Fatal(err)
			}
			refAddr, _, err := DeployContract(b.Context(), e.client, e.admin, &referencedistributor.ReferenceMerkleDistributorMetaData, ref.PackConstructor(e.d.OPEN, tree.Root()))
			if err != nil {
				b.Fatal(err)
			}
			e.mustSend(b, e.admin, e.d.OPEN, tokenABI.PackTransfer(refAddr, wei(100_000_000)))
			if tc.stride == 1 {
				// Make the first bitmap word non-zero, as after earlier claims.
				p, _ := tree.Proof(benchTreeSize - 1)
				e.mustSend(b, e.stranger, refAddr, ref.PackClaim(big.NewInt(benchTreeSize-1), benchAccount(benchTreeSize-1), amounts[benchTreeSize-1], toBytes32s(p)))
			}
			var g, proofLen gasMeter
			n := 0
			for b.Loop() {
				idx := (n * tc.stride) % (benchTreeSize - 1)
				n++
				p, err := tree.Proof(idx)
				if err != nil {
					b.Fatal(err)
				}
				r, err := e.send(b, e.stranger, refAddr, ref.PackClaim(big.NewInt(int64(idx)), benchAccount(idx), amounts[idx], toBytes32s(p)))
				if err != nil {
					b.Fatalf("reference claim %d: %v", idx, err)
				}
				g.add(r.GasUsed)
				proofLen.add(uint64(len(p)))
			}
			g.report(b, "gas/tx")
			proofLen.report(b, "proof-hashes")
		})
	}
}

// BenchmarkGasBatchTransfer100 pays 100 fresh recipients in one transaction
// through BatchTransfer (transferFrom per recipient), the push alternative
// to a Merkle distributor.
func BenchmarkGasBatchTransfer100(b *testing.B) {
	e := newSimEnv(b)
	bt := batchtransfer.NewBatchTransfer()
	btAddr, _, err := DeployContract(b.Context(), e.client, e.admin, &batchtransfer.BatchTransferMetaData, nil)
	if err != nil {
		b.Fatal(err)
	}
	e.mustSend(b, e.admin, e.d.OPEN, tokenABI.PackApprove(btAddr, wei(1_000_000_000)))
	var g gasMeter
	next := 0
	for b.Loop() {
		to := make([]common.Address, 100)
		amounts := make([]*big.Int, 100)
		for j := range to {
			to[j] = benchAccount(next)
			amounts[j] = wei(int64(next%1000 + 1))
			next++
		}
		r := e.mustSend(b, e.admin, btAddr, bt.PackBatchTransfer(e.d.OPEN, to, amounts))
		g.add(r.GasUsed)
	}
	g.report(b, "gas/tx")
	b.ReportMetric(float64(g.total)/float64(g.n)/100, "gas/recipient")
}

func toBytes32s(p []common.Hash) [][32]byte {
	out := make([][32]byte, len(p))
	for i := range p {
		out[i] = p[i]
	}
	return out
}
