package views

import (
	"strings"
	"time"
)

// ReportCategory is one reason a report can give.
type ReportCategory struct {
	Key   string // stored value: "spam", "personal_data", …
	Label string
}

// ReportCategories are the reasons offered in every report form, in order.
var ReportCategories = []ReportCategory{
	{"spam", "Spam or advertising"},
	{"illegal", "Illegal content"},
	{"personal_data", "Personal data (PII)"},
	{"copyright", "Copyright infringement"},
	{"harmful", "Harmful or abusive"},
	{"low_quality", "Low quality or wrong"},
	{"other", "Something else"},
}

// CategoryLabel is a category's human label.
func CategoryLabel(key string) string {
	for _, c := range ReportCategories {
		if c.Key == key {
			return c.Label
		}
	}
	return key
}

// ReportRow is one report in the moderation queue.
type ReportRow struct {
	ID         int64
	Reporter   string
	Category   string
	Details    string
	Status     string
	Resolution string
	CreatedAt  time.Time
}

// ReportGroup is every report about one target, with what the target is.
type ReportGroup struct {
	TargetType string // datanet, record, contribution, model
	Target     string // "type:id", what actions name
	Count      int64
	LastAt     time.Time
	Reports    []ReportRow
	// The target now.
	Exists      bool
	Title       string
	Status      string
	Owner       string // wallet answerable for it
	OwnerBanned bool
	Href        string
	Text        string
	ConfirmName string // what an admin types to confirm suspending it (the slug)
}

// ModerationQueue is the admin moderation page.
type ModerationQueue struct {
	Status string // open, dismissed, actioned, all
	Type   string // "" or a target type
	Groups []ReportGroup
	Pager  Pager
}

// AuditRow is one audit log entry.
type AuditRow struct {
	ID         int64
	Actor      string // address, "" for the system
	Action     string
	TargetType string
	TargetID   string
	Before     string // JSON, "" for none
	After      string
	Reason     string
	CreatedAt  time.Time
}

// AuditView is the admin audit log page with its filters.
type AuditView struct {
	Actor, Target, Action string
	Rows                  []AuditRow
	Pager                 Pager
}

// RoleHolder is a wallet with granted roles or a ban.
type RoleHolder struct {
	Address string
	Roles   []string
	Banned  bool
	Since   time.Time // banned or first seen
}

// RolesView is the admin roles page.
type RolesView struct {
	ConfigAdmins []string // MF_ADMIN_ADDRESSES, as configured
	Holders      []RoleHolder
	Me           string
}

// NotificationRow is one notification.
type NotificationRow struct {
	ID        int64
	Kind      string
	Title     string
	Body      string
	Href      string
	CreatedAt time.Time
	Unread    bool
}

// NotificationsView is the notifications page.
type NotificationsView struct {
	Rows  []NotificationRow
	Pager Pager
}

// targetLabel is how the queue names a target type.
func targetLabel(t string) string {
	switch t {
	case "datanet":
		return "Datanet"
	case "record":
		return "Record"
	case "contribution":
		return "Contribution"
	case "model":
		return "Model"
	}
	return t
}

// paragraphs splits a notification body into paragraphs.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
