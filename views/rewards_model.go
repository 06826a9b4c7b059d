package views

import "time"

// Rewards is the signed-in user's Rewards page. Amounts are wei as decimal
// strings.
type Rewards struct {
	Account     string
	Earned      string // every ledger entry
	Pending     string // not settled in an epoch yet
	Claimable   string // in the distributor's current root, not yet claimed
	Claimed     string // from the distributor's Claimed events
	Distributor string // contract address; "" when nothing is claimable
	ChainID     uint64
	BySource    []RewardSource
	Epochs      []RewardEpochRow // newest first; Epoch 0 is "pending"
	Claims      []RewardClaim
}

// RewardSource is an amount earned from one source (grant, attribution, labeling).
type RewardSource struct {
	Source string
	Amount string
}

// RewardEpochRow is what the user earned in one epoch.
type RewardEpochRow struct {
	Epoch     int64
	Status    string // pending, settled, built, final
	Amount    string
	Sources   []RewardSource
	RootTx    string
	RootTxURL string // explorer link; "" without an explorer
	At        time.Time
}

// RewardClaim is one claim read from the chain.
type RewardClaim struct {
	TxHash string
	TxURL  string
	Amount string
	Epoch  int64
	Block  uint64
}

// AdminRewards is the admin page: grant form, epochs, transaction journal.
type AdminRewards struct {
	Enabled bool // contracts configured
	Form    GrantForm
	Epochs  []AdminEpoch
	Journal []JournalRow
}

// GrantForm holds the grant form's values and field errors.
type GrantForm struct {
	Address   string
	AmountWei string
	Reason    string
	Errors    map[string]string
}

// AdminEpoch is one reward epoch.
type AdminEpoch struct {
	Epoch     int64
	Status    string
	Root      string
	Total     string
	Amount    string
	Accounts  int64
	RootTx    string
	RootTxURL string
}

// JournalRow is one transaction of the journal.
type JournalRow struct {
	ID        int64
	Key       string
	Kind      string
	Status    string
	Nonce     int64 // -1 before signing
	TxHash    string
	TxURL     string
	Attempts  int
	Error     string
	UpdatedAt time.Time
}
