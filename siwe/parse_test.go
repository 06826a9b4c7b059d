package siwe

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

const testAddr = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"

// specExample is the example message from the EIP-4361 text.
const specExample = `service.org wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ServiceOrg Terms of Service: https://service.org/tos

URI: https://service.org/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json`

// lines builds a message from lines joined by LF.
func lines(l ...string) string { return strings.Join(l, "\n") }

// base returns a valid message with the given header, statement block and
// trailing lines substituted, to make one-line mutations easy to read.
func base() []string {
	return []string{
		"example.com wants you to sign in with your Ethereum account:",
		testAddr,
		"",
		"Sign in to ModelFactory.",
		"",
		"URI: https://example.com/login",
		"Version: 1",
		"Chain ID: 1337",
		"Nonce: abcdefgh12",
		"Issued At: 2025-01-31T12:00:00Z",
	}
}

// with returns base() with line i replaced by s (or removed when s is "\x00").
func with(i int, s string) string {
	l := base()
	if s == "\x00" {
		l = append(l[:i], l[i+1:]...)
	} else {
		l[i] = s
	}
	return lines(l...)
}

func appended(extra ...string) string { return lines(append(base(), extra...)...) }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// sameMessage compares messages, treating times by instant.
func sameMessage(a, b *Message) bool {
	eqT := func(x, y *time.Time) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Equal(*y)
	}
	eqS := func(x, y *string) bool {
		if x == nil || y == nil {
			return x == y
		}
		return *x == *y
	}
	if (a.Resources == nil) != (b.Resources == nil) || len(a.Resources) != len(b.Resources) {
		return false
	}
	for i := range a.Resources {
		if a.Resources[i] != b.Resources[i] {
			return false
		}
	}
	return a.Scheme == b.Scheme && a.Domain == b.Domain && a.Address == b.Address &&
		a.Statement == b.Statement && a.HasStatement == b.HasStatement && a.URI == b.URI &&
		a.Version == b.Version && a.ChainID == b.ChainID && a.Nonce == b.Nonce &&
		a.IssuedAt.Equal(b.IssuedAt) && eqT(a.ExpirationTime, b.ExpirationTime) &&
		eqT(a.NotBefore, b.NotBefore) && eqS(a.RequestID, b.RequestID)
}

// checkRoundTrip asserts that String of a parsed message parses back to the
// same message and is a fixed point.
func checkRoundTrip(t testing.TB, m *Message) {
	t.Helper()
	text := m.String()
	m2, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(String()) failed: %v\n%s", err, text)
	}
	if !sameMessage(m, m2) {
		t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
	}
	if m2.String() != text {
		t.Fatalf("String is not a fixed point:\n%q\n%q", text, m2.String())
	}
}

func TestParseSpecExample(t *testing.T) {
	m, err := Parse(specExample)
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{
		Domain:       "service.org",
		Address:      common.HexToAddress(testAddr),
		Statement:    "I accept the ServiceOrg Terms of Service: https://service.org/tos",
		HasStatement: true,
		URI:          "https://service.org/login",
		Version:      "1",
		ChainID:      1,
		Nonce:        "32891756",
		IssuedAt:     mustTime(t, "2021-09-30T16:25:24Z"),
		Resources: []string{
			"ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
			"https://example.com/my-web2-claim.json",
		},
	}
	if !sameMessage(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	if m.String() != specExample {
		t.Fatalf("String() is not the canonical text:\n%s", m.String())
	}
	checkRoundTrip(t, m)
}

func TestParseValid(t *testing.T) {
	ptr := func(s string) *string { return &s }
	tests := []struct {
		name      string
		text      string
		canonical bool // String() reproduces text exactly
		check     func(t *testing.T, m *Message)
	}{
		{"base", lines(base()...), true, func(t *testing.T, m *Message) {
			if m.Domain != "example.com" || m.Scheme != "" || m.Statement != "Sign in to ModelFactory." || !m.HasStatement ||
				m.ChainID != 1337 || m.Nonce != "abcdefgh12" || m.Version != "1" || m.URI != "https://example.com/login" ||
				m.ExpirationTime != nil || m.NotBefore != nil || m.RequestID != nil || m.Resources != nil {
				t.Errorf("fields: %+v", m)
			}
			if !m.IssuedAt.Equal(mustTime(t, "2025-01-31T12:00:00Z")) {
				t.Errorf("IssuedAt %v", m.IssuedAt)
			}
		}},
		{"no statement", lines(base()[0], testAddr, "", "", "URI: https://example.com/login", "Version: 1", "Chain ID: 1337", "Nonce: abcdefgh12", "Issued At: 2025-01-31T12:00:00Z"), true,
			func(t *testing.T, m *Message) {
				if m.HasStatement || m.Statement != "" {
					t.Errorf("statement: %v %q", m.HasStatement, m.Statement)
				}
			}},
		{"empty statement", lines(base()[0], testAddr, "", "", "", "URI: https://example.com/login", "Version: 1", "Chain ID: 1337", "Nonce: abcdefgh12", "Issued At: 2025-01-31T12:00:00Z"), true,
			func(t *testing.T, m *Message) {
				if !m.HasStatement || m.Statement != "" {
					t.Errorf("statement: %v %q", m.HasStatement, m.Statement)
				}
			}},
		{"statement with every allowed punctuation", with(3, "Hi! $&'()*+,;= :/?#[]@ -._~ ok"), true, nil},
		{"statement that looks like a URI line", with(3, "URI: https://evil.example"), true, func(t *testing.T, m *Message) {
			if m.URI != "https://example.com/login" || m.Statement != "URI: https://evil.example" {
				t.Errorf("fields: %+v", m)
			}
		}},
		{"scheme prefix", with(0, "https://example.com wants you to sign in with your Ethereum account:"), true, func(t *testing.T, m *Message) {
			if m.Scheme != "https" || m.Domain != "example.com" {
				t.Errorf("scheme %q domain %q", m.Scheme, m.Domain)
			}
		}},
		{"domain with port", with(0, "localhost:8080 wants you to sign in with your Ethereum account:"), true, func(t *testing.T, m *Message) {
			if m.Domain != "localhost:8080" {
				t.Errorf("domain %q", m.Domain)
			}
		}},
		{"IPv6 domain", with(0, "[::1]:8080 wants you to sign in with your Ethereum account:"), true, nil},
		{"IPv4 domain", with(0, "127.0.0.1:8080 wants you to sign in with your Ethereum account:"), true, nil},
		{"domain with userinfo", with(0, "user@example.com wants you to sign in with your Ethereum account:"), true, nil},
		{"all-digit address (checksum is trivially lowercase)", with(1, "0x1234567890123456789012345678901234567890"), true, nil},
		{"URI with query and fragment", with(5, "URI: https://example.com/login?next=%2Fdatanets&x=1#top"), true, nil},
		{"URN URI", with(5, "URI: urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8"), true, nil},
		{"max chain id", with(7, "Chain ID: 18446744073709551615"), true, func(t *testing.T, m *Message) {
			if m.ChainID != math.MaxUint64 {
				t.Errorf("chain %d", m.ChainID)
			}
		}},
		{"chain id with leading zeros", with(7, "Chain ID: 0001337"), false, func(t *testing.T, m *Message) {
			if m.ChainID != 1337 {
				t.Errorf("chain %d", m.ChainID)
			}
		}},
		{"long nonce", with(8, "Nonce: "+strings.Repeat("aZ9", 40)), true, nil},
		{"fractional seconds and offset", with(9, "Issued At: 2025-01-31T13:00:00.123456789+01:00"), true, func(t *testing.T, m *Message) {
			if !m.IssuedAt.Equal(mustTime(t, "2025-01-31T12:00:00.123456789Z")) {
				t.Errorf("IssuedAt %v", m.IssuedAt)
			}
		}},
		{"trailing-zero fraction", with(9, "Issued At: 2025-01-31T12:00:00.000Z"), false, nil},
		{"lowercase t and z", with(9, "Issued At: 2025-01-31t12:00:00z"), false, nil},
		{"more than nanosecond precision", with(9, "Issued At: 2025-01-31T12:00:00.1234567891234Z"), false, func(t *testing.T, m *Message) {
			if !m.IssuedAt.Equal(mustTime(t, "2025-01-31T12:00:00.123456789Z")) {
				t.Errorf("IssuedAt %v", m.IssuedAt)
			}
		}},
		{"all optional fields", appended(
			"Expiration Time: 2025-01-31T12:10:00Z",
			"Not Before: 2025-01-31T12:00:00Z",
			"Request ID: req-1:a@b",
			"Resources:",
			"- https://example.com/datanets/1",
			"- ipfs://bafy/",
		), true, func(t *testing.T, m *Message) {
			if m.ExpirationTime == nil || !m.ExpirationTime.Equal(mustTime(t, "2025-01-31T12:10:00Z")) ||
				m.NotBefore == nil || !m.NotBefore.Equal(mustTime(t, "2025-01-31T12:00:00Z")) ||
				m.RequestID == nil || *m.RequestID != "req-1:a@b" || len(m.Resources) != 2 || m.Resources[1] != "ipfs://bafy/" {
				t.Errorf("fields: %+v", m)
			}
		}},
		{"only not before", appended("Not Before: 2025-01-31T12:00:00Z"), true, func(t *testing.T, m *Message) {
			if m.NotBefore == nil || m.ExpirationTime != nil {
				t.Errorf("fields: %+v", m)
			}
		}},
		{"empty request id", appended("Request ID: "), true, func(t *testing.T, m *Message) {
			if m.RequestID == nil || *m.RequestID != "" {
				t.Errorf("request id %v", m.RequestID)
			}
		}},
		{"resources header without items", appended("Resources:"), true, func(t *testing.T, m *Message) {
			if m.Resources == nil || len(m.Resources) != 0 {
				t.Errorf("resources %#v", m.Resources)
			}
		}},
		{"request id then resources", appended("Request ID: abc", "Resources:", "- urn:x:y"), true, func(t *testing.T, m *Message) {
			if m.RequestID == nil || *m.RequestID != "abc" || len(m.Resources) != 1 {
				t.Errorf("fields: %+v %v", m, ptr("x"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, tt.text)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
			if tt.canonical && m.String() != tt.text {
				t.Errorf("String() differs from input:\n got %q\nwant %q", m.String(), tt.text)
			}
			checkRoundTrip(t, m)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := lines(base()...) + "\nResources:\n- https://example.com/" + strings.Repeat("a", MaxMessageLength)
	noStatementOneBlank := lines(base()[0], testAddr, "", "URI: https://example.com/login", "Version: 1", "Chain ID: 1337", "Nonce: abcdefgh12", "Issued At: 2025-01-31T12:00:00Z")
	tests := []struct {
		name string
		text string
		code string
		hint string // a substring the user-facing message must contain
	}{
		{"empty", "", CodeMalformedMessage, "first line"},
		{"too long", long, CodeMessageTooLong, "4096"},
		{"too long and garbage is still too long", strings.Repeat("\xff", MaxMessageLength+1), CodeMessageTooLong, ""},
		{"not a siwe message", "hello world", CodeMalformedMessage, "first line"},
		{"wrong header wording", with(0, "example.com wants you to sign in with your account:"), CodeMalformedMessage, "first line"},
		{"bad scheme", with(0, "1https://example.com wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "scheme"},
		{"empty scheme", with(0, "://example.com wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "scheme"},
		{"domain with space", with(0, "exa mple.com wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "domain"},
		{"domain with path", with(0, "example.com/login wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "domain"},
		{"empty domain", with(0, " wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "host"},
		{"domain with bad port", with(0, "example.com:80a wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "domain"},
		{"domain with bad IPv6", with(0, "[::g]:80 wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "domain"},
		{"domain with IPv6 zone", with(0, "[fe80::1%25eth0] wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "domain"},
		{"domain with bad percent escape", with(0, "ex%zzample.com wants you to sign in with your Ethereum account:"), CodeMalformedMessage, "domain"},
		{"lowercase address", with(1, strings.ToLower(testAddr)), CodeMalformedMessage, "EIP-55"},
		{"uppercase address", with(1, "0x"+strings.ToUpper(testAddr[2:])), CodeMalformedMessage, "EIP-55"},
		{"wrong checksum", with(1, "0xc02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), CodeMalformedMessage, "EIP-55"},
		{"0X prefix", with(1, "0X"+testAddr[2:]), CodeMalformedMessage, "40 hexadecimal"},
		{"short address", with(1, testAddr[:41]), CodeMalformedMessage, "40 hexadecimal"},
		{"non-hex address", with(1, "0xG02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), CodeMalformedMessage, "40 hexadecimal"},
		{"address with spaces", with(1, " "+testAddr), CodeMalformedMessage, "40 hexadecimal"},
		{"missing address", lines(base()[0]), CodeMalformedMessage, "address line"},
		{"no blank after address", with(2, "\x00"), CodeMalformedMessage, "empty line"},
		{"no blank after statement", with(4, "\x00"), CodeMalformedMessage, "empty line"},
		{"no statement and one blank line", noStatementOneBlank, CodeMalformedMessage, "two empty lines"},
		{"statement with quote", with(3, `Say "hi"`), CodeMalformedMessage, "statement"},
		{"statement with percent", with(3, "100% sure"), CodeMalformedMessage, "statement"},
		{"statement with non-ASCII", with(3, "Café"), CodeMalformedMessage, "ASCII"},
		{"statement with tab", with(3, "a\tb"), CodeMalformedMessage, "ASCII"},
		{"CRLF line endings", strings.ReplaceAll(lines(base()...), "\n", "\r\n"), CodeMalformedMessage, "ASCII"},
		{"ends after address", lines(base()[0], testAddr, ""), CodeMalformedMessage, "ends after"},
		{"missing URI line", with(5, "\x00"), CodeMalformedMessage, "URI: "},
		{"lowercase field name", with(5, "uri: https://example.com/login"), CodeMalformedMessage, "URI: "},
		{"URI without scheme", with(5, "URI: example.com/login"), CodeMalformedMessage, "RFC 3986"},
		{"URI with space", with(5, "URI: https://example.com/log in"), CodeMalformedMessage, "RFC 3986"},
		{"URI with bad escape", with(5, "URI: https://example.com/%zz"), CodeMalformedMessage, "RFC 3986"},
		{"URI with bad port", with(5, "URI: https://example.com:x/"), CodeMalformedMessage, "RFC 3986"},
		{"URI with bracket in path", with(5, "URI: https://example.com/[x]"), CodeMalformedMessage, "RFC 3986"},
		{"empty URI", with(5, "URI: "), CodeMalformedMessage, "RFC 3986"},
		{"missing version", with(6, "\x00"), CodeMalformedMessage, "Version: "},
		{"version 2", with(6, "Version: 2"), CodeMalformedMessage, "version"},
		{"version with space", with(6, "Version:  1"), CodeMalformedMessage, "version"},
		{"missing chain id", with(7, "\x00"), CodeMalformedMessage, "Chain ID: "},
		{"empty chain id", with(7, "Chain ID: "), CodeMalformedMessage, "chain ID"},
		{"hex chain id", with(7, "Chain ID: 0x539"), CodeMalformedMessage, "decimal"},
		{"negative chain id", with(7, "Chain ID: -1"), CodeMalformedMessage, "decimal"},
		{"chain id overflow", with(7, "Chain ID: 18446744073709551616"), CodeMalformedMessage, "too large"},
		{"missing nonce", with(8, "\x00"), CodeMalformedMessage, "Nonce: "},
		{"7-char nonce", with(8, "Nonce: abc1234"), CodeMalformedMessage, "nonce"},
		{"nonce with dash", with(8, "Nonce: abcd-efgh"), CodeMalformedMessage, "nonce"},
		{"missing issued at", with(9, "\x00"), CodeMalformedMessage, "Issued At"},
		{"issued at with space", with(9, "Issued At: 2025-01-31 12:00:00Z"), CodeMalformedMessage, "RFC 3339"},
		{"issued at without zone", with(9, "Issued At: 2025-01-31T12:00:00"), CodeMalformedMessage, "RFC 3339"},
		{"issued at unix", with(9, "Issued At: 1738324800"), CodeMalformedMessage, "RFC 3339"},
		{"issued at Feb 30", with(9, "Issued At: 2025-02-30T12:00:00Z"), CodeMalformedMessage, "RFC 3339"},
		{"issued at hour 25", with(9, "Issued At: 2025-01-31T25:00:00Z"), CodeMalformedMessage, "RFC 3339"},
		{"issued at leap second", with(9, "Issued At: 2016-12-31T23:59:60Z"), CodeMalformedMessage, "RFC 3339"},
		{"issued at empty fraction", with(9, "Issued At: 2025-01-31T12:00:00.Z"), CodeMalformedMessage, "RFC 3339"},
		{"issued at offset without colon", with(9, "Issued At: 2025-01-31T12:00:00+0100"), CodeMalformedMessage, "RFC 3339"},
		{"issued at offset hour 24", with(9, "Issued At: 2025-01-31T12:00:00+24:00"), CodeMalformedMessage, "RFC 3339"},
		{"issued at short year", with(9, "Issued At: 25-01-31T12:00:00Z"), CodeMalformedMessage, "RFC 3339"},
		{"issued at trailing text", with(9, "Issued At: 2025-01-31T12:00:00Zx"), CodeMalformedMessage, "RFC 3339"},
		{"trailing newline", lines(base()...) + "\n", CodeMalformedMessage, "trailing newline"},
		{"unknown field", appended("Foo: bar"), CodeMalformedMessage, "not part"},
		{"bad expiration time", appended("Expiration Time: tomorrow"), CodeMalformedMessage, "Expiration Time"},
		{"bad not before", appended("Not Before: 2025-13-01T00:00:00Z"), CodeMalformedMessage, "Not Before"},
		{"optional fields out of order", appended("Not Before: 2025-01-31T12:00:00Z", "Expiration Time: 2025-01-31T12:10:00Z"), CodeMalformedMessage, "out of order"},
		{"request id before not before", appended("Request ID: x", "Not Before: 2025-01-31T12:00:00Z"), CodeMalformedMessage, "out of order"},
		{"duplicate expiration", appended("Expiration Time: 2025-01-31T12:10:00Z", "Expiration Time: 2025-01-31T12:10:00Z"), CodeMalformedMessage, "out of order"},
		{"request id with space", appended("Request ID: a b"), CodeMalformedMessage, "request ID"},
		{"request id with hash", appended("Request ID: a#b"), CodeMalformedMessage, "request ID"},
		{"request id with slash", appended("Request ID: a/b"), CodeMalformedMessage, "request ID"},
		{"issued at offset minute 60", with(9, "Issued At: 2025-01-31T12:00:00+01:60"), CodeMalformedMessage, "RFC 3339"},
		{"resource without dash", appended("Resources:", "https://example.com/x"), CodeMalformedMessage, "resource"},
		{"resource bad URI", appended("Resources:", "- not a uri"), CodeMalformedMessage, "resource"},
		{"resource with blank line", appended("Resources:", "- https://example.com/x", ""), CodeMalformedMessage, "resource"},
		{"resources twice", appended("Resources:", "Resources:"), CodeMalformedMessage, "resource"},
		{"fields after resources", appended("Resources:", "- https://example.com/x", "Request ID: abc"), CodeMalformedMessage, "resource"},
		{"issued at repeated", appended("Issued At: 2025-01-31T12:00:00Z"), CodeMalformedMessage, "not part"},
		{"NUL byte", with(3, "a\x00b"), CodeMalformedMessage, "ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse accepted invalid message: %+v", m)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *siwe.Error: %v", err, err)
			}
			if se.Code != tt.code {
				t.Fatalf("code %q, want %q (%s)", se.Code, tt.code, se.Message)
			}
			if !strings.Contains(se.Message, tt.hint) {
				t.Errorf("message %q does not mention %q", se.Message, tt.hint)
			}
			if m != nil {
				t.Errorf("Parse returned a message with an error")
			}
		})
	}
}

func TestStringFromScratch(t *testing.T) {
	exp := time.Date(2025, 1, 31, 12, 10, 0, 0, time.UTC)
	req := "r1"
	m := &Message{
		Scheme:         "http",
		Domain:         "127.0.0.1:8080",
		Address:        common.HexToAddress(testAddr),
		Statement:      "Sign in to ModelFactory.",
		HasStatement:   true,
		URI:            "http://127.0.0.1:8080",
		Version:        "1",
		ChainID:        1337,
		Nonce:          NewNonce(),
		IssuedAt:       time.Date(2025, 1, 31, 12, 0, 0, 5e8, time.UTC),
		ExpirationTime: &exp,
		RequestID:      &req,
		Resources:      []string{"http://127.0.0.1:8080/datanets"},
	}
	want := lines(
		"http://127.0.0.1:8080 wants you to sign in with your Ethereum account:",
		testAddr, "", "Sign in to ModelFactory.", "",
		"URI: http://127.0.0.1:8080", "Version: 1", "Chain ID: 1337", "Nonce: "+m.Nonce,
		"Issued At: 2025-01-31T12:00:00.5Z", "Expiration Time: 2025-01-31T12:10:00Z", "Request ID: r1",
		"Resources:", "- http://127.0.0.1:8080/datanets")
	if m.String() != want {
		t.Fatalf("String():\n%s\nwant\n%s", m.String(), want)
	}
	checkRoundTrip(t, m)
}

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := NewNonce()
		if len(n) != 24 || !validNonce(n) {
			t.Fatalf("bad nonce %q", n)
		}
		if seen[n] {
			t.Fatalf("duplicate nonce %q", n)
		}
		seen[n] = true
	}
}
