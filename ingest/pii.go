package ingest

import (
	"regexp"
	"slices"
	"strings"
)

// PII kinds.
const (
	PIIEmail         = "email"
	PIIPhone         = "phone"
	PIIAWSKey        = "aws_access_key_id"
	PIIGitHubToken   = "github_token"
	PIISlackToken    = "slack_token"
	PIIAPIKey        = "api_key"
	PIIPrivateKey    = "private_key"     // a PEM private key block
	PIIHexPrivateKey = "hex_private_key" // 64 hex digits, as an Ethereum private key
)

// PIIFlag marks likely personal data or a secret in one field of a record,
// for a reviewer to look at. Start and End are byte offsets into the
// field's normalised value.
type PIIFlag struct {
	Field string `json:"field"`
	Kind  string `json:"kind"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// The patterns run only on text that passed a cheap byte test, so that the
// common record without '@', long digit runs or key prefixes costs little.
var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`)
	// International numbers start with "+"; North American ones need the
	// 3-3-4 grouping with separators. Plain digit runs and dates match
	// neither.
	rePhoneIntl = regexp.MustCompile(`\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,6}`)
	rePhoneUS   = regexp.MustCompile(`(?:\b1[ .-])?(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b`)
	reAWS       = regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)
	reGitHub    = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`)
	reSlack     = regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}`)
	reAPIKey    = regexp.MustCompile(`\b(?:sk-(?:proj-|live-|test-|ant-)?[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})`)
	rePEM       = regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\z)`)
	reHex64     = regexp.MustCompile(`\b(?:0x)?[0-9a-fA-F]{64}\b`)
)

// FindPII returns the likely PII in value, labelled with field, in order of
// position. It errs on the side of flagging: reviewers decide.
func FindPII(field, value string) []PIIFlag {
	var flags []PIIFlag
	add := func(kind string, re *regexp.Regexp, keep func(string) bool) {
		for _, m := range re.FindAllStringIndex(value, -1) {
			if keep == nil || keep(value[m[0]:m[1]]) {
				flags = append(flags, PIIFlag{Field: field, Kind: kind, Start: m[0], End: m[1]})
			}
		}
	}
	if strings.IndexByte(value, '@') >= 0 {
		add(PIIEmail, reEmail, nil)
	}
	if digitRun(value, 7) {
		add(PIIPhone, rePhoneIntl, func(s string) bool {
			d := countDigits(s)
			return d >= 8 && d <= 15
		})
		add(PIIPhone, rePhoneUS, nil)
	}
	if strings.Contains(value, "A") && (strings.Contains(value, "AKIA") || strings.Contains(value, "ASIA") || strings.Contains(value, "ABIA") || strings.Contains(value, "ACCA")) {
		add(PIIAWSKey, reAWS, hasDigit)
	}
	if strings.Contains(value, "gh") && (strings.Contains(value, "_") && (strings.Contains(value, "ghp_") || strings.Contains(value, "gho_") || strings.Contains(value, "ghu_") || strings.Contains(value, "ghs_") || strings.Contains(value, "ghr_") || strings.Contains(value, "github_pat_"))) {
		add(PIIGitHubToken, reGitHub, nil)
	}
	if strings.Contains(value, "xox") || strings.Contains(value, "hooks.slack.com") {
		add(PIISlackToken, reSlack, nil)
	}
	if strings.Contains(value, "k-") || strings.Contains(value, "k_live_") || strings.Contains(value, "k_test_") {
		add(PIIAPIKey, reAPIKey, hasDigit)
	}
	if strings.Contains(value, "-----BEGIN ") {
		add(PIIPrivateKey, rePEM, nil)
	}
	if hexRun(value, 64) {
		add(PIIHexPrivateKey, reHex64, func(s string) bool {
			// A 64-digit run of one repeated digit or all decimal digits is
			// a placeholder or a number, not a key.
			s = strings.TrimPrefix(s, "0x")
			return strings.Trim(s, s[:1]) != "" && strings.Trim(s, "0123456789") != ""
		})
	}
	// Overlaps (an international number also matching the US pattern) are
	// reported once.
	slices.SortFunc(flags, func(a, b PIIFlag) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
	out := flags[:0]
	for _, f := range flags {
		if len(out) > 0 && f.Start < out[len(out)-1].End && f.Kind == out[len(out)-1].Kind {
			continue
		}
		out = append(out, f)
	}
	return out
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

func hasDigit(s string) bool { return countDigits(s) > 0 }

// digitRun reports whether s holds n digits within a stretch where only
// phone separators come between them.
func digitRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			run++
			if run >= n {
				return true
			}
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+':
		default:
			run = 0
		}
	}
	return false
}

// hexRun reports whether s holds n consecutive hex digits.
func hexRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
