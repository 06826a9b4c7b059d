package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/bindings/provenance"
	"github.com/modelfactory/modelfactory/store"
)

var registryABI = provenance.NewProvenanceRegistry()

// DatanetKey is the ProvenanceRegistry key of Datanet id:
// keccak256("modelfactory:datanet:" + decimal id). Anyone holding the
// Datanet's id can recompute it.
func DatanetKey(id int64) common.Hash {
	return crypto.Keccak256Hash([]byte("modelfactory:datanet:" + strconv.FormatInt(id, 10)))
}

// Anchorer anchors published Datanet versions in the ProvenanceRegistry
// through the transaction journal. The journal key names the version
// ("anchor:version:<id>"), so whatever happens — crashes, retries, two
// workers — at most one anchoring transaction is ever signed per version;
// the registry being write-once, a version already anchored on chain is
// never sent again either.
type Anchorer struct {
	Store      *store.Store
	Sender     *Sender
	Client     ChainClient
	Deployment chain.Deployment
	// BaseURL is the public URL of this ModelFactory; the anchored uri is
	// BaseURL + "/api/v1/datanets/<slug>/versions#v<n>".
	BaseURL string
	Log     *slog.Logger
}

func (a *Anchorer) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// VersionURI is the uri anchored for version n of the Datanet slug.
func (a *Anchorer) VersionURI(slug string, n int) string {
	return fmt.Sprintf("%s/api/v1/datanets/%s/versions#v%d", strings.TrimRight(a.BaseURL, "/"), slug, n)
}

// anchorBatch bounds the versions one run looks at.
const anchorBatch = 50

// AnchorPending advances the anchoring of every published version that has
// no anchor transaction recorded yet, without waiting for confirmations. It
// returns how many versions got their anchor recorded in this call.
func (a *Anchorer) AnchorPending(ctx context.Context) (int, error) {
	vs, err := a.Store.UnanchoredVersions(ctx, anchorBatch)
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, v := range vs {
		ok, err := a.anchor(ctx, v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			done++
		}
	}
	return done, errors.Join(errs...)
}

// anchor moves one version on; true when its anchor tx is now recorded.
func (a *Anchorer) anchor(ctx context.Context, v store.UnanchoredVersion) (bool, error) {
	if v.Version < 1 || v.Records < 0 {
		return false, fmt.Errorf("anchor version %d: bad version %d / record count %d", v.ID, v.Version, v.Records)
	}
	key := DatanetKey(v.DatanetID)
	root := common.HexToHash(v.MerkleRoot)
	return a.write(ctx, registryWrite{
		what: fmt.Sprintf("anchor version %d", v.ID), intentKey: store.AnchorIntentKey(v.ID), kind: "anchor_version",
		data:    registryABI.PackAnchorDatanetVersion(key, uint64(v.Version), root, uint64(v.Records), a.VersionURI(v.Slug, v.Version)),
		already: "already anchored by ",
		onChain: func(ctx context.Context) (common.Hash, bool, error) { return a.anchoredBy(ctx, key, uint64(v.Version)) },
		record:  func(ctx context.Context, tx string) error { return a.Store.SetVersionAnchorTx(ctx, v.ID, tx) },
		doneMsg: "datanet version anchored", logArgs: []any{"datanet", v.Slug, "version", v.Version},
	})
}

// registryWrite is one write-once ProvenanceRegistry call sent through the
// transaction journal.
type registryWrite struct {
	what      string // error prefix, e.g. "anchor version 7"
	intentKey string // journal key: at most one transaction per key
	kind      string
	data      []byte
	already   string // note left on an unsigned intent the registry made moot
	// onChain reports the transaction that already wrote this to the
	// registry, if any.
	onChain func(context.Context) (common.Hash, bool, error)
	// record stores the hash of the transaction that did the write.
	record  func(context.Context, string) error
	doneMsg string
	logArgs []any
}

// write moves w on without waiting for blocks; true once its transaction
// is recorded.
func (a *Anchorer) write(ctx context.Context, w registryWrite) (bool, error) {
	t, err := a.Sender.Intent(ctx, w.intentKey, w.kind, a.Deployment.ProvenanceRegistry, nil, w.data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", w.what, err)
	}
	if t.Status == store.TxIntent || t.Status == store.TxFailed {
		// Not signed (or refused): if the registry already holds the write
		// (an earlier deployment of this database, a restore), sign nothing
		// and record the transaction that did it.
		hash, found, err := w.onChain(ctx)
		if err != nil {
			return false, err
		}
		if found {
			if t.Status == store.TxIntent {
				if err := a.Store.FailChainTx(ctx, t.ID, w.already+hash.Hex()); err != nil {
					return false, err
				}
			}
			return true, w.record(ctx, hash.Hex())
		}
		if t.Status == store.TxFailed {
			// The one transaction for this key failed and the registry does
			// not hold the write; sending another needs a person's decision.
			return false, fmt.Errorf("%s: transaction %s failed: %s", w.what, t.TxHash, t.LastError)
		}
	}
	if t, err = a.Sender.Drive(ctx, t.ID); err != nil {
		return false, fmt.Errorf("%s: %w", w.what, err)
	}
	switch t.Status {
	case store.TxConfirmed:
		if err := w.record(ctx, t.TxHash); err != nil {
			return false, err
		}
		a.log().Info(w.doneMsg, append(w.logArgs, "tx", t.TxHash)...)
		return true, nil
	case store.TxFailed:
		return false, fmt.Errorf("%s: transaction %s failed: %s", w.what, t.TxHash, t.LastError)
	}
	return false, nil // waiting for a block or confirmations
}

// anchoredBy finds the transaction that anchored (datanetID, version), if
// the registry holds it.
func (a *Anchorer) anchoredBy(ctx context.Context, datanetID common.Hash, version uint64) (common.Hash, bool, error) {
	inst := registryABI.Instance(a.Client, a.Deployment.ProvenanceRegistry)
	ok, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, registryABI.PackIsDatanetVersionAnchored(datanetID, version),
		registryABI.UnpackIsDatanetVersionAnchored)
	if err != nil {
		return common.Hash{}, false, fmt.Errorf("registry: is %s v%d anchored: %w", datanetID, version, err)
	}
	if !ok {
		return common.Hash{}, false, nil
	}
	topic := registryABI.GetABI().Events[provenance.ProvenanceRegistryDatanetVersionAnchoredEventName].ID
	logs, err := a.Client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(0), Addresses: []common.Address{a.Deployment.ProvenanceRegistry},
		Topics: [][]common.Hash{{topic}, {datanetID}, {common.BigToHash(new(big.Int).SetUint64(version))}},
	})
	if err != nil {
		return common.Hash{}, false, fmt.Errorf("registry: anchor event of %s v%d: %w", datanetID, version, err)
	}
	for _, l := range logs {
		if !l.Removed {
			return l.TxHash, true, nil
		}
	}
	return common.Hash{}, false, fmt.Errorf("registry holds %s v%d but no anchor event was found", datanetID, version)
}

// RegistryVersion reads what the registry holds for (datanetID, version).
func (a *Anchorer) RegistryVersion(ctx context.Context, datanetID common.Hash, version uint64) (provenance.ProvenanceRegistryDatanetVersion, error) {
	inst := registryABI.Instance(a.Client, a.Deployment.ProvenanceRegistry)
	v, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, registryABI.PackGetDatanetVersion(datanetID, version),
		registryABI.UnpackGetDatanetVersion)
	if err != nil {
		return v, fmt.Errorf("registry: read %s v%d: %w", datanetID, version, err)
	}
	return v, nil
}

// AnchorVersionsArgs anchors published Datanet versions that have no anchor
// yet. Periodic: publishing a version needs no hook, and a version whose
// transaction waits for confirmations is picked up again next time.
type AnchorVersionsArgs struct{}

// Kind identifies the job.
func (AnchorVersionsArgs) Kind() string { return "anchor_versions" }

// InsertOpts: chain queue, once per period.
func (AnchorVersionsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChain, UniqueOpts: river.UniqueOpts{ByPeriod: 15 * time.Second}}
}

// AnchorVersionsWorker runs AnchorVersionsArgs.
type AnchorVersionsWorker struct {
	river.WorkerDefaults[AnchorVersionsArgs]
	anchorer *Anchorer
}

// Work anchors what it can; one failing version does not stop the others
// and is logged rather than retried in a loop (the next period retries).
func (w *AnchorVersionsWorker) Work(ctx context.Context, job *river.Job[AnchorVersionsArgs]) error {
	if _, err := w.anchorer.AnchorPending(ctx); err != nil {
		w.anchorer.log().Warn("anchor datanet versions", "err", err)
	}
	return nil
}
