package views

import (
	"math/big"
	"strconv"
	"strings"
	"time"
)

// ShortAddress middle-truncates a 0x address for display: "0x12ab…cd34".
// Anything that does not look like an address is returned unchanged.
func ShortAddress(addr string) string {
	if len(addr) < 12 || !strings.HasPrefix(addr, "0x") {
		return addr
	}
	return addr[:6] + "…" + addr[len(addr)-4:]
}

// FormatOPEN renders an amount in wei (decimal string, 18 decimals) as OPEN
// without losing precision: "12500000000000000000" → "12.5". Thousands are
// grouped; at most maxFrac fraction digits are kept (truncated, never
// rounded up, so a balance is never overstated). It reports false for input
// that is not a non-negative integer.
func FormatOPEN(wei string, maxFrac int) (string, bool) {
	v, ok := new(big.Int).SetString(strings.TrimSpace(wei), 10)
	if !ok || v.Sign() < 0 {
		return "", false
	}
	unit := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	whole, frac := new(big.Int).QuoRem(v, unit, new(big.Int))
	out := groupThousands(whole.String())
	fs := frac.String()
	fs = strings.Repeat("0", 18-len(fs)) + fs
	if maxFrac < 18 {
		fs = fs[:max(maxFrac, 0)]
	}
	fs = strings.TrimRight(fs, "0")
	if fs != "" {
		out += "." + fs
	} else if frac.Sign() > 0 && whole.Sign() == 0 {
		// Dust below the shown precision: say so rather than print 0.
		return "<0." + strings.Repeat("0", max(maxFrac-1, 0)) + "1", true
	}
	return out, true
}

// FormatInt groups thousands with thin commas: 1234567 → "1,234,567".
func FormatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + groupThousands(s[1:])
	}
	return groupThousands(s)
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	pre := len(digits) % 3
	if pre > 0 {
		b.WriteString(digits[:pre])
	}
	for i := pre; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// statusLabels is the fixed status vocabulary; every badge uses one of these
// keys and gets one colour (see .badge[data-status] in static/app.css).
var statusLabels = map[string]string{
	"draft":      "Draft",
	"pending":    "Pending",
	"processing": "Processing",
	"in-review":  "In review",
	"accepted":   "Accepted",
	"rejected":   "Rejected",
	"failed":     "Failed",
	"queued":     "Queued",
	"running":    "Running",
	"succeeded":  "Succeeded",
	"cancelled":  "Cancelled",
	"published":  "Published",
	"suspended":  "Suspended",
	// API token states
	"active":  "Active",
	"expired": "Expired",
	"revoked": "Revoked",
}

// StatusKey normalises a status as stored ("in_review", "In review",
// "CANCELED") to its badge key ("in-review", "cancelled").
func StatusKey(status string) string {
	k := strings.ToLower(strings.TrimSpace(status))
	k = strings.NewReplacer("_", "-", " ", "-").Replace(k)
	if k == "canceled" {
		k = "cancelled"
	}
	return k
}

// StatusLabel is the human label of a status ("in_review" → "In review").
func StatusLabel(status string) string {
	if l, ok := statusLabels[StatusKey(status)]; ok {
		return l
	}
	s := strings.ReplaceAll(strings.TrimSpace(status), "_", " ")
	if s == "" {
		return "Unknown"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// riverStates maps River's job states onto the badge vocabulary so that job
// counts use the same colours as everything else.
var riverStates = map[string]string{
	"available": "queued",
	"pending":   "pending",
	"scheduled": "pending",
	"running":   "running",
	"retryable": "processing",
	"completed": "succeeded",
	"cancelled": "cancelled",
	"discarded": "failed",
}

// riverOrder is the order job states are shown in: the pipeline's flow.
var riverOrder = []string{"pending", "scheduled", "available", "running", "retryable", "completed", "cancelled", "discarded"}

// JobStateKey returns the badge key for a River job state.
func JobStateKey(state string) string {
	if k, ok := riverStates[strings.ToLower(state)]; ok {
		return k
	}
	return "draft"
}

// TokenStatus is "revoked", "expired" or "active" for a token at time now.
func TokenStatus(t APIToken, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	default:
		return "active"
	}
}

// roleOrder puts the most powerful role first when roles are listed.
var roleOrder = map[string]int{"admin": 0, "reviewer": 1, "labeler": 2, "user": 3}

func sortedRoles(roles []string) []string {
	out := append([]string(nil), roles...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && rank(out[j]) < rank(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func rank(role string) int {
	if r, ok := roleOrder[role]; ok {
		return r
	}
	return len(roleOrder)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// absTime is the server-side fallback text of a <time> element, replaced by
// a relative time in the browser.
func absTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

func itoa(n int) string { return strconv.Itoa(n) }

// pct is a percentage with at most two decimals, for SVG widths and offsets.
func pct(part, total int64) string {
	if total <= 0 {
		return "0%"
	}
	return strconv.FormatFloat(float64(part)*100/float64(total), 'f', 2, 64) + "%"
}

// FormatIntRaw is a plain decimal integer, for attributes.
func FormatIntRaw(n int64) string { return strconv.FormatInt(n, 10) }

// ShortHash middle-truncates a long hex string: "0x1234ab…90cdef". Short
// strings are returned unchanged.
func ShortHash(h string) string {
	if len(h) <= 18 {
		return h
	}
	return h[:8] + "…" + h[len(h)-6:]
}
