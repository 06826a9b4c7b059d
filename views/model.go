// Package views renders ModelFactory's HTML with templ components: the app
// shell, shared components and one file per page area. It knows nothing of
// HTTP or SQL; handlers fill the small view models below.
package views

import "time"

// Page is what every full page needs: the shell (navigation, wallet pill,
// flash messages) and the title.
type Page struct {
	Title       string    // <title> and the top-bar heading
	Breadcrumbs []Crumb   // optional; the last one is the current page
	Section     string    // sidebar entry to mark current: "dashboard", "datanets", "models", "finetunes", "playground", "labeling", "rewards", "admin", "settings"
	User        *User     // nil when signed out
	Flashes     []Flash   // shown as toasts once
	Chain       ChainInfo // network shown in the wallet pill and used by the wallet script
	Dev         bool      // MF_DEV=1: offer the local test wallet
	RequestID   string    // shown on error pages so users can quote it
	Charts      bool      // load uPlot (JS + CSS) for pages that draw charts
	Wide        bool      // let the content column use the full width (big tables)
	Scripts     []string  // extra deferred scripts under static/ ("label.js"), loaded after app.js
}

// Crumb is one breadcrumb link.
type Crumb struct {
	Label string
	Href  string // empty for the current page
}

// User is the signed-in wallet.
type User struct {
	Address     string   // EIP-55 checksummed, 0x-prefixed
	Roles       []string // "user", "labeler", "reviewer", "admin"
	IsAdmin     bool
	OpenBalance string // OPEN balance in wei as a decimal string; "" when unknown
	Unread      int64  // unread notifications, shown on the top bar's bell
}

// ChainInfo describes the chain the app talks to.
type ChainInfo struct {
	ChainID uint64
	Name    string // e.g. "ModelFactory dev chain"
	RPCURL  string // offered to wallets for wallet_addEthereumChain; may be empty
}

// Flash is a one-time message shown after a redirect.
type Flash struct {
	Kind    string // "success", "info", "warning", "danger"
	Message string
}

// Stat is one figure on the dashboard.
type Stat struct {
	Label string
	Value int64
	Help  string // one short sentence saying what the number counts
	Href  string // optional link to the area
}

// Dashboard is the signed-in home page.
type Dashboard struct {
	Stats      []Stat     // real counts from the database
	Jobs       []JobCount // River jobs by state
	SignedInAt time.Time
}

// JobCount is the number of River jobs in one state.
type JobCount struct {
	State string
	Count int64
}

// Area describes a part of the product that later work fills in; its page
// says what will be there.
type Area struct {
	Title   string
	Lead    string   // one paragraph: what this area is for
	Bullets []string // what people will do here
	Icon    string   // icon name from the shared icon set
}

// APIToken is one personal access token on the settings page (never the secret).
type APIToken struct {
	ID         int64
	Name       string
	Prefix     string // first characters of the token, for recognition
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TokenSettings is the API tokens page.
type TokenSettings struct {
	Tokens   []APIToken
	NewToken string // the secret, shown once right after creation
	Form     TokenForm
	Now      time.Time // reference time for active/expired; zero means time.Now()
}

// TokenForm holds the create form's values and field errors.
type TokenForm struct {
	Name       string
	ExpiryDays string
	Errors     map[string]string // field name → message
}

// ErrorInfo is a rendered error page (403, 404, 500, …).
type ErrorInfo struct {
	Status  int
	Title   string
	Message string
}
