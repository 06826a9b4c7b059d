package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/riverqueue/river"

	"github.com/modelfactory/modelfactory/chain/bindings/provenance"
	"github.com/modelfactory/modelfactory/store"
)

// ModelKey is the ProvenanceRegistry id of fine-tuned model id:
// keccak256("modelfactory:model:" + decimal id).
func ModelKey(id int64) common.Hash {
	return crypto.Keccak256Hash([]byte("modelfactory:model:" + strconv.FormatInt(id, 10)))
}

// ModelRegistrar registers published models in the ProvenanceRegistry —
// model id, base model content hash, adapter hash and the (Datanet,
// version) pairs it was trained on — through the transaction journal under
// the key store.ModelRegistryIntentKey, so at most one registration is ever
// signed per model whatever crashes or retries happen. The registry needs
// every referenced version anchored first; versions not anchored yet are
// anchored through the Anchorer's own journal keys (never twice).
type ModelRegistrar struct {
	Anchorer *Anchorer
}

// ErrNotRegistrable means the model lacks something the registry requires
// (a content hash); retrying cannot help.
var ErrNotRegistrable = errors.New("model cannot be registered")

// Register moves model id's registration on without waiting for blocks; it
// reports true once the registration transaction is recorded on the model.
func (r *ModelRegistrar) Register(ctx context.Context, id int64) (bool, error) {
	a := r.Anchorer
	m, err := a.Store.GetModel(ctx, id)
	if err != nil {
		return false, err
	}
	if m.RegistryTx != "" {
		return true, nil
	}
	adapter := m.AdapterHash
	if adapter == "" {
		adapter = m.MergedHash // full fine-tunes have no adapter: the weights are the merged model
	}
	if m.BaseHash == "" || adapter == "" {
		return false, fmt.Errorf("register model %s: %w: base hash %q, adapter hash %q", m.Slug, ErrNotRegistrable, m.BaseHash, adapter)
	}
	refs := make([]provenance.ProvenanceRegistryDatanetRef, 0, len(m.Data))
	waiting := false
	for _, d := range m.Data {
		if d.AnchorTx == "" {
			ok, err := a.anchor(ctx, store.UnanchoredVersion{ID: d.VersionID, DatanetID: d.DatanetID, Slug: d.DatanetSlug,
				Version: d.Version, MerkleRoot: d.MerkleRoot, Records: d.Records})
			if err != nil {
				return false, fmt.Errorf("register model %s: %w", m.Slug, err)
			}
			waiting = waiting || !ok
		}
		refs = append(refs, provenance.ProvenanceRegistryDatanetRef{DatanetId: DatanetKey(d.DatanetID), Version: uint64(d.Version)})
	}
	if waiting {
		return false, nil // the registry refuses models whose versions are not anchored yet
	}
	key := ModelKey(m.ID)
	return a.write(ctx, registryWrite{
		what: "register model " + m.Slug, intentKey: store.ModelRegistryIntentKey(m.ID), kind: "register_model",
		data:    registryABI.PackAnchorModel(key, common.HexToHash(m.BaseHash), common.HexToHash(adapter), refs),
		already: "already registered by ",
		onChain: func(ctx context.Context) (common.Hash, bool, error) { return r.registeredBy(ctx, key) },
		record:  func(ctx context.Context, tx string) error { return a.Store.SetModelRegistryTx(ctx, m.ID, tx) },
		doneMsg: "model registered", logArgs: []any{"model", m.Slug},
	})
}

// registeredBy finds the transaction that registered modelID, if the
// registry holds it.
func (r *ModelRegistrar) registeredBy(ctx context.Context, modelID common.Hash) (common.Hash, bool, error) {
	a := r.Anchorer
	inst := registryABI.Instance(a.Client, a.Deployment.ProvenanceRegistry)
	ok, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, registryABI.PackIsModelAnchored(modelID), registryABI.UnpackIsModelAnchored)
	if err != nil {
		return common.Hash{}, false, fmt.Errorf("registry: is model %s anchored: %w", modelID, err)
	}
	if !ok {
		return common.Hash{}, false, nil
	}
	topic := registryABI.GetABI().Events[provenance.ProvenanceRegistryModelAnchoredEventName].ID
	logs, err := a.Client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(0), Addresses: []common.Address{a.Deployment.ProvenanceRegistry},
		Topics: [][]common.Hash{{topic}, {modelID}},
	})
	if err != nil {
		return common.Hash{}, false, fmt.Errorf("registry: model event of %s: %w", modelID, err)
	}
	for _, l := range logs {
		if !l.Removed {
			return l.TxHash, true, nil
		}
	}
	return common.Hash{}, false, fmt.Errorf("registry holds model %s but no ModelAnchored event was found", modelID)
}

// RegistryModel reads what the registry holds for model id.
func (r *ModelRegistrar) RegistryModel(ctx context.Context, id int64) (provenance.ProvenanceRegistryModel, error) {
	a := r.Anchorer
	inst := registryABI.Instance(a.Client, a.Deployment.ProvenanceRegistry)
	return bind.Call(inst, &bind.CallOpts{Context: ctx}, registryABI.PackGetModel(ModelKey(id)), registryABI.UnpackGetModel)
}

// RegisterModelArgs registers a published model in the ProvenanceRegistry.
type RegisterModelArgs struct {
	ModelID int64 `json:"modelId"`
}

// Kind identifies the job.
func (RegisterModelArgs) Kind() string { return "register_model" }

// InsertOpts: chain queue, one waiting job per model.
func (RegisterModelArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChain, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates}}
}

// RegisterModelWorker runs RegisterModelArgs.
type RegisterModelWorker struct {
	river.WorkerDefaults[RegisterModelArgs]
	registrar *ModelRegistrar
}

// Work registers the model, snoozing while versions are anchored or the
// transaction waits for confirmations.
func (w *RegisterModelWorker) Work(ctx context.Context, job *river.Job[RegisterModelArgs]) error {
	done, err := w.registrar.Register(ctx, job.Args.ModelID)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrNotRegistrable):
		return river.JobCancel(err)
	case err != nil:
		return err
	case !done:
		return river.JobSnooze(2 * time.Second)
	}
	return nil
}
