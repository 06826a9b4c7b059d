package jobs_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
	"github.com/modelfactory/modelfactory/store"
)

// TestLedgerEntriesSettleOnce: the database lets an entry change only by
// being settled, once; everything else about it is refused, before and
// after settlement, and entries are never deleted. SettleEpoch's totals
// match the entries (CheckRewardInvariants recomputes them).
func TestLedgerEntriesSettleOnce(t *testing.T) {
	ctx := context.Background()
	st := store.New(pgtest.New(t))
	add := func(account string, wei int64) int64 {
		e, err := st.AddRewardEntry(ctx, 0, store.RewardEntryInput{Account: account, Amount: big.NewInt(wei),
			Source: store.RewardGrant, Reference: "t"})
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	a, b := "0x00000000000000000000000000000000000000A1", "0x00000000000000000000000000000000000000b2"
	first := add(a, 5)
	add(b, 7)
	add(a, 11)
	refused := func(what, sql string, args ...any) {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, sql, args...); err == nil {
			t.Fatalf("%s was allowed", what)
		}
	}
	refused("changing an unsettled amount", `UPDATE reward_entries SET amount = 6 WHERE id = $1`, first)
	refused("settling while changing the account", `UPDATE reward_entries SET epoch = NULL, account = $2 WHERE id = $1`, first, b)
	refused("deleting an unsettled entry", `DELETE FROM reward_entries WHERE id = $1`, first)

	ep, err := st.SettleEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Epoch != 1 || ep.EpochAmount.Int64() != 23 || ep.TotalCumulative.Int64() != 23 || ep.AccountCount != 2 {
		t.Fatalf("epoch 1: %+v", ep)
	}
	refused("settling again", `UPDATE reward_entries SET epoch = 1 WHERE id = $1`, first)
	refused("un-settling", `UPDATE reward_entries SET epoch = NULL WHERE id = $1`, first)
	refused("deleting a settled entry", `DELETE FROM reward_entries WHERE id = $1`, first)
	if err := st.CheckRewardInvariants(ctx); err != nil {
		t.Fatal(err)
	}

	// Epoch 2's running total continues epoch 1's; its account count
	// includes accounts of earlier epochs.
	if _, err := st.Pool().Exec(ctx, `UPDATE reward_epochs SET status = 'final', merkle_root = $1, root_tx_id = NULL WHERE epoch = 1`,
		"0x"+"ab"+"00000000000000000000000000000000000000000000000000000000000000"); err == nil {
		t.Fatal("a final epoch without a root transaction was allowed")
	}
	if _, err := st.Pool().Exec(ctx, `
		WITH t AS (INSERT INTO chain_txs (intent_key, kind, chain_id, sender, to_address) VALUES ('k', 'post_root', 1,
			'0x0000000000000000000000000000000000000001', '0x0000000000000000000000000000000000000002') RETURNING id)
		UPDATE reward_epochs SET status = 'final', merkle_root = $1, root_tx_id = (SELECT id FROM t) WHERE epoch = 1`,
		"0xab00000000000000000000000000000000000000000000000000000000000000"); err != nil {
		t.Fatal(err)
	}
	add("0x00000000000000000000000000000000000000c3", 100)
	ep, err = st.SettleEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Epoch != 2 || ep.EpochAmount.Int64() != 100 || ep.TotalCumulative.Int64() != 123 || ep.AccountCount != 3 {
		t.Fatalf("epoch 2: %+v", ep)
	}
	if err := st.CheckRewardInvariants(ctx); err != nil {
		t.Fatal(err)
	}
}
