package siwe

import (
	"context"
	"errors"
	"testing"
	"time"
)

func fuzzSeeds() []string {
	return []string{
		specExample,
		lines(base()...),
		appended("Expiration Time: 2025-01-31T12:10:00Z", "Not Before: 2025-01-31T12:00:00Z", "Request ID: r-1", "Resources:", "- https://example.com/a", "- urn:x:y"),
		appended("Resources:"),
		appended("Request ID: "),
		with(0, "https://[::1]:8080 wants you to sign in with your Ethereum account:"),
		with(0, "u:p@example.com:0 wants you to sign in with your Ethereum account:"),
		with(3, ""),
		with(3, "\x00"),
		with(9, "Issued At: 2025-01-31T13:00:00.123456789123+01:00"),
		with(9, "Issued At: 2025-01-31t12:00:00z"),
		with(5, "URI: a:"),
		with(5, "URI: https://[v1.x]/%41?#"),
		with(1, "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
		"",
		"\n\n\n\n\n\n\n\n\n\n",
		" wants you to sign in with your Ethereum account:",
	}
}

// FuzzParse checks that Parse never panics, fails only with *Error, and that
// everything it accepts renders back to text that parses to the same message.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || (se.Code != CodeMalformedMessage && se.Code != CodeMessageTooLong) || se.Message == "" {
				t.Fatalf("unexpected error %T %v", err, err)
			}
			if len(s) > MaxMessageLength && se.Code != CodeMessageTooLong {
				t.Fatalf("over-long input got %s", se.Code)
			}
			if m != nil {
				t.Fatal("message returned with error")
			}
			return
		}
		if len(s) > MaxMessageLength {
			t.Fatal("accepted an over-long message")
		}
		if m.Version != "1" || len(m.Nonce) < MinNonceLength {
			t.Fatalf("accepted invalid fields: %+v", m)
		}
		checkRoundTrip(t, m)
	})
}

// FuzzVerify checks that Verify never panics and fails only with *Error, for
// arbitrary message text and signature bytes.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, []byte{})
		f.Add(s, make([]byte, 65))
	}
	v := testVerifier()
	f.Fuzz(func(t *testing.T, s string, sig []byte) {
		m, err := v.Verify(context.Background(), s, sig)
		if err == nil {
			// Only a real signature by the message's address gets here,
			// which random input will not produce.
			t.Fatalf("accepted %q with %x: %+v", s, sig, m)
		}
		var se *Error
		if !errors.As(err, &se) || m != nil {
			t.Fatalf("unexpected result %v %v", m, err)
		}
	})
}

// FuzzStringParse builds messages from arbitrary field values and checks that
// whenever the rendered text parses, it parses to exactly the fields it was
// rendered from: no field can leak into another (a statement posing as the
// URI line, a request ID posing as a resource, ...).
func FuzzStringParse(f *testing.F) {
	f.Add("https", "example.com", true, "Sign in.", "https://example.com/", uint64(1), "abcdefgh", int64(1738324800), int64(0), true, "r1", "https://example.com/a", true)
	f.Add("", "localhost:8080", true, "", "http://localhost:8080", uint64(1337), "12345678", int64(-1), int64(999999999), false, "", "", true)
	f.Add("", "[::1]", false, "URI: https://x.example", "urn:x", uint64(0), "ABCDEFGHIJ", int64(253402300799), int64(1), true, "a:b@c", "- x:y", false)
	f.Fuzz(func(t *testing.T, scheme, domain string, hasStatement bool, statement, uri string, chainID uint64, nonce string,
		issued, nanos int64, hasReq bool, req, resource string, hasResources bool) {
		if !hasStatement {
			statement = "" // String ignores it then
		}
		m := &Message{
			Scheme: scheme, Domain: domain, Address: [20]byte{0xab, 0xcd, 0x01}, Statement: statement, HasStatement: hasStatement,
			URI: uri, Version: "1", ChainID: chainID, Nonce: nonce,
			IssuedAt: time.Unix(issued, nanos%1e9).UTC(),
		}
		if nanos%3 == 0 {
			e := m.IssuedAt.Add(time.Duration(nanos))
			m.ExpirationTime = &e
		}
		if nanos%5 == 0 {
			nb := m.IssuedAt.Add(-time.Duration(nanos))
			m.NotBefore = &nb
		}
		if hasReq {
			m.RequestID = &req
		}
		if hasResources {
			m.Resources = []string{}
			if resource != "" {
				m.Resources = append(m.Resources, resource, resource+"/2")
			}
		}
		text := m.String()
		m2, err := Parse(text)
		if err != nil {
			return
		}
		if !sameMessage(m, m2) {
			t.Fatalf("rendered message parsed differently:\n%q\n%+v\n%+v", text, m, m2)
		}
	})
}
