package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"

	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/store"
)

func datanetJSON(d *store.Datanet) map[string]any {
	return map[string]any{
		"slug": d.Slug, "name": d.Name, "summary": d.Summary, "description": d.Description, "tags": d.Tags,
		"license": d.License, "schema": d.Schema, "labels": d.Labels, "visibility": d.Visibility,
		"contributionPolicy": d.ContributionPolicy, "status": d.Status, "owner": d.Owner,
		"records": d.Records, "contributors": d.Contributors, "versions": d.Versions,
		"createdAt": d.CreatedAt, "updatedAt": d.UpdatedAt,
	}
}

func contributionJSON(c *store.Contribution) map[string]any {
	problems := c.Problems
	if problems == nil {
		problems = []store.Problem{}
	}
	return map[string]any{
		"id": c.ID, "datanet": c.DatanetSlug, "contributor": c.Contributor, "source": c.Source, "filename": c.Filename,
		"sha256": c.SHA256, "sizeBytes": c.SizeBytes, "status": c.Status, "accepted": c.Accepted,
		"duplicates": c.Duplicates, "nearDuplicates": c.NearDups, "rejected": c.Rejected, "problems": problems,
		"reviewReason": c.ReviewReason, "indexing": c.Indexing, "createdAt": c.CreatedAt,
	}
}

func versionJSON(v *store.Version) map[string]any {
	return map[string]any{
		"version": v.Version, "records": v.Records, "chars": v.Chars, "tokens": v.Tokens, "merkleRoot": v.MerkleRoot,
		"shares": v.Shares, "createdAt": v.CreatedAt, "anchorTx": v.AnchorTx,
	}
}

// APICreateDatanet: POST /api/v1/datanets
func (h *Handlers) APICreateDatanet(w http.ResponseWriter, r *http.Request) {
	var in store.DatanetInput
	if err := decodeJSON(r, &in); err != nil {
		h.Fail(w, r, err)
		return
	}
	d, err := h.Store.CreateDatanet(r.Context(), actor(r), in)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, datanetJSON(d))
}

// APIListDatanets: GET /api/v1/datanets?q=&tag=&schema=&sort=&limit=&offset=
func (h *Handlers) APIListDatanets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	items, total, err := h.Store.ListDatanets(r.Context(), actor(r), store.DatanetQuery{Q: q.Get("q"), Tag: q.Get("tag"),
		Schema: q.Get("schema"), Sort: q.Get("sort"), Limit: limit, Offset: max(offset, 0)})
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, len(items))
	for i := range items {
		out[i] = datanetJSON(&items[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"datanets": out, "total": total})
}

// APIGetDatanet: GET /api/v1/datanets/{slug}
func (h *Handlers) APIGetDatanet(w http.ResponseWriter, r *http.Request) {
	d, _, err := h.Store.VisibleDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, datanetJSON(d))
}

// APIPublishDatanet: POST /api/v1/datanets/{slug}/publish
func (h *Handlers) APIPublishDatanet(w http.ResponseWriter, r *http.Request) {
	d, err := h.Store.PublishDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, datanetJSON(d))
}

// APIGetContribution: GET /api/v1/contributions/{id}
func (h *Handlers) APIGetContribution(w http.ResponseWriter, r *http.Request) {
	c, _, ok := h.contributionFromURL(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, contributionJSON(c))
}

// APIVersions: GET /api/v1/datanets/{slug}/versions
func (h *Handlers) APIVersions(w http.ResponseWriter, r *http.Request) {
	d, acc, err := h.Store.VisibleDatanet(r.Context(), actor(r), chi.URLParam(r, "slug"))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	if !acc.Read {
		h.Fail(w, r, problem(http.StatusForbidden, "forbidden", "This Datanet's data needs approved access."))
		return
	}
	vs, err := h.Store.Versions(r.Context(), d.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	out := make([]map[string]any, len(vs))
	for i := range vs {
		out[i] = versionJSON(&vs[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

// APIProof proves a record belongs to a version:
// GET /api/v1/datanets/{slug}/versions/{v}/proof/{hash}
func (h *Handlers) APIProof(w http.ResponseWriter, r *http.Request) {
	_, v, ok := h.versionFromURL(w, r)
	if !ok {
		return
	}
	hashes, err := h.Store.VersionHashes(r.Context(), v.ID)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	want := chi.URLParam(r, "hash")
	idx := -1
	for i, hh := range hashes {
		if hh == want {
			idx = i
			break
		}
	}
	if idx < 0 {
		h.Fail(w, r, problem(http.StatusNotFound, "not_in_version", fmt.Sprintf("No record with hash %s is in version %d.", want, v.Version)))
		return
	}
	t, err := merkle.NewBytes32(merkle.HexValues(hashes))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	leaf := merkle.Bytes32LeafHash(common.HexToHash(want))
	proof, err := t.Proof(idx)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	ps := make([]string, len(proof))
	for i, p := range proof {
		ps[i] = p.Hex()
	}
	writeJSON(w, http.StatusOK, map[string]any{"leaf": leaf.Hex(), "proof": ps, "root": t.Root().Hex()})
}
