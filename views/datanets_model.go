package views

import "time"

// DatanetSummary is one Datanet in the browse list.
type DatanetSummary struct {
	Slug         string
	Name         string
	Summary      string
	Tags         []string
	Schema       string // "documents", "instruction", "classification"
	Visibility   string // "public", "permissioned", "private"
	Status       string // "draft", "published", "suspended"
	Owner        string // address
	Records      int64  // accepted records
	Contributors int64
	Versions     int
	UpdatedAt    time.Time
}

// DatanetList is the browse/search page.
type DatanetList struct {
	Query   string // full-text query
	Tag     string // tag filter
	Schema  string // schema filter
	Sort    string // "relevance", "updated", "records", "name"
	Items   []DatanetSummary
	Pager   Pager
	AllTags []string // popular tags for the filter
}

// DatanetForm is the create/edit wizard's values and field errors.
type DatanetForm struct {
	Slug               string // set when editing
	Name               string
	Summary            string
	Description        string // Markdown
	Tags               string // comma-separated as typed
	License            string // SPDX id
	Schema             string
	Labels             string // comma-separated label set (classification)
	Visibility         string
	ContributionPolicy string // "open" or "review"
	Published          bool   // schema is locked once published
	Errors             map[string]string
	Licenses           []string // SPDX ids offered in the select
}

// Datanet is the Datanet page.
type Datanet struct {
	DatanetSummary
	DescriptionHTML    string // sanitised HTML rendered from Markdown; safe to emit raw
	License            string
	Labels             []string
	ContributionPolicy string
	CreatedAt          time.Time
	Chars              int64
	IsOwner            bool
	CanContribute      bool
	CanReview          bool   // owner, reviewer or admin
	CanRead            bool   // may see records and export versions
	Access             string // viewer's access: "owner", "public", "granted", "pending", "denied", "none"
	PendingReviews     int64  // contributions in review (shown to reviewers)
	Leaderboard        []ContributorShare
	VersionList        []DatanetVersion
	Records            []RecordRow // current page of the record browser (accepted records)
	RecordPager        Pager
	RecordQuery        string             // search within the records tab; empty lists them all
	RecordsIndexing    int64              // accepted records search does not reach yet (being indexed)
	RecordMatchesMore  bool               // the search counted matches up to a cap and there are more
	Tab                string             // "overview", "records", "versions", "contributions", "access"
	Contributions      []ContributionRow  // for the contributions tab (reviewers see all, others their own)
	AccessRequests     []AccessRequestRow // for the owner's access tab
	Members            []MemberRow        // invitees and reviewers, for the owner's access tab
	MemberForm         map[string]string  // add-member form errors by field
	MaxUploadBytes     int64
}

// MemberRow is an invitee or reviewer the owner added.
type MemberRow struct {
	Address string
	Role    string // "invitee" or "reviewer"
	AddedAt time.Time
}

// ContributorShare is one line of a leaderboard or a version's shares.
type ContributorShare struct {
	Address  string
	Records  int64
	ShareBps int64 // basis points of the total (10000 = 100 %)
}

// DatanetVersion is one published version.
type DatanetVersion struct {
	Version    int
	Records    int64
	Chars      int64
	Tokens     int64
	MerkleRoot string
	CreatedAt  time.Time
	Shares     []ContributorShare
	AnchorTx   string // on-chain anchor transaction hash, "" if not anchored
	ExportURL  string
}

// RecordRow is one record in the browser.
type RecordRow struct {
	Hash        string
	Fields      []Field // in schema order
	Contributor string
	CreatedAt   time.Time
	PII         []string // kinds flagged, e.g. "email"
	NearDupOf   string   // hash of the matching record, "" if none
	NearDupSim  float64  // Jaccard estimate
	// NearDupFields is the matching record's fields (schema order), shown
	// beside this one so a reviewer can compare; nil when not loaded.
	NearDupFields []Field
}

// Field is one named value of a record.
type Field struct {
	Name  string
	Value string
}

// ContributionRow is one contribution in a list.
type ContributionRow struct {
	ID          int64
	Datanet     string // slug
	Contributor string
	Source      string // "file", "form", "api"
	Filename    string
	Status      string // pending, processing, in_review, accepted, rejected, failed
	Accepted    int64
	Duplicates  int64
	NearDups    int64
	Rejected    int64
	CreatedAt   time.Time
}

// Contribution is the per-contribution report page (live-updating).
type Contribution struct {
	ContributionRow
	DatanetName string
	SizeBytes   int64
	SHA256      string
	Progress    int64 // rows parsed so far while processing
	// BytesRead is how much of the upload the ingest job has parsed so far;
	// with SizeBytes it drives a real progress bar. 0 when unknown (the bar
	// then shows rows only).
	BytesRead    int64
	Schema       string   // the Datanet's schema, for the fix-a-record forms
	Labels       []string // the label set (classification), for the fix forms
	Problems     []Problem
	ReviewReason string // shown to the contributor when rejected
	CanReview    bool
	Indexing     bool        // committed records still being added to search
	Records      []RecordRow // records of this contribution (for review: with PII and near-dup flags)
	RecordPager  Pager
}

// Problem is one rejected row or file-level problem.
type Problem struct {
	Line   int // 0 for the whole file
	Reason string
}

// UploadPage is the contribute page: file upload and single-record form.
type UploadPage struct {
	Datanet        DatanetSummary
	Labels         []string // for classification
	MaxUploadBytes int64
	Form           map[string]string // single-record form values
	Errors         map[string]string
	// ContributionPolicy ("open" or "review") and License are shown so
	// contributors know what happens to their records and under which terms.
	ContributionPolicy string
	License            string
}

// AccessRequestRow is one access request.
type AccessRequestRow struct {
	ID        int64
	Datanet   string
	Requester string
	Purpose   string
	Status    string // pending, approved, denied, expired
	ExpiresAt *time.Time
	CreatedAt time.Time
}
