package siwe

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

var testNow = time.Date(2025, 1, 31, 12, 5, 0, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Domain:  "example.com",
		Origin:  "https://example.com",
		ChainID: 1337,
		MaxAge:  10 * time.Minute,
		Skew:    time.Minute,
		Now:     func() time.Time { return testNow },
	}
}

// testMessage is a valid message for testVerifier signed by addr.
func testMessage(addr common.Address) *Message {
	exp := testNow.Add(10 * time.Minute)
	return &Message{
		Domain:         "example.com",
		Address:        addr,
		Statement:      "Sign in to ModelFactory.",
		HasStatement:   true,
		URI:            "https://example.com/auth/verify",
		Version:        "1",
		ChainID:        1337,
		Nonce:          "k3Jd82nQxPz0",
		IssuedAt:       testNow.Add(-time.Minute),
		ExpirationTime: &exp,
	}
}

// sign is what a wallet's personal_sign returns: 65 bytes with v = 27/28.
func sign(t testing.TB, key *ecdsa.PrivateKey, text string) []byte {
	t.Helper()
	sig, err := crypto.Sign(accounts.TextHash([]byte(text)), key)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27
	return sig
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify succeeded, want %s", code)
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %T is not *siwe.Error: %v", err, err)
	}
	if se.Code != code {
		t.Fatalf("code %q (%s), want %q", se.Code, se.Message, code)
	}
	if se.Message == "" {
		t.Fatal("empty user-facing message")
	}
}

func TestVerifyHappyPath(t *testing.T) {
	key := mustKey(t)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	text := testMessage(addr).String()
	sig := sign(t, key, text)

	m, err := testVerifier().Verify(context.Background(), text, sig)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if m.Address != addr || m.Nonce != "k3Jd82nQxPz0" {
		t.Fatalf("returned message %+v", m)
	}

	// v as 0/1 (some signers) is accepted too.
	raw := append([]byte{}, sig...)
	raw[64] -= 27
	if _, err := testVerifier().Verify(context.Background(), text, raw); err != nil {
		t.Fatalf("Verify with v in {0,1}: %v", err)
	}
	if raw[64] > 1 || sig[64] < 27 {
		t.Fatal("Verify modified the caller's signature")
	}

	// The signature checks the original text, not a re-rendering: a
	// message written with ".000" fractions still verifies.
	odd := strings.Replace(text, "Issued At: 2025-01-31T12:04:00Z", "Issued At: 2025-01-31T12:04:00.000Z", 1)
	if odd == text {
		t.Fatal("test setup: replacement did not apply")
	}
	if _, err := testVerifier().Verify(context.Background(), odd, sign(t, key, odd)); err != nil {
		t.Fatalf("Verify non-canonical text: %v", err)
	}
}

// TestVerifyIsDeterministic documents that Verify has no memory: the same
// message verifies again, so refusing a replayed nonce is the caller's job.
func TestVerifyIsDeterministic(t *testing.T) {
	key := mustKey(t)
	text := testMessage(crypto.PubkeyToAddress(key.PublicKey)).String()
	sig := sign(t, key, text)
	v := testVerifier()
	for i := range 3 {
		if _, err := v.Verify(context.Background(), text, sig); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	bad := sign(t, mustKey(t), text)
	for i := range 3 {
		_, err := v.Verify(context.Background(), text, bad)
		wantCode(t, err, CodeAddressMismatch)
		_ = i
	}
}

func TestVerifyFailures(t *testing.T) {
	key, other := mustKey(t), mustKey(t)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	n := crypto.S256().Params().N

	tests := []struct {
		name   string
		mutate func(m *Message)           // changes the message before signing
		text   func(signed string) string // changes the text after signing
		sig    func(t *testing.T, sig []byte, text string) []byte
		ver    func(v *Verifier)
		code   string
	}{
		{name: "wrong domain", mutate: func(m *Message) { m.Domain = "evil.example" }, code: CodeDomainMismatch},
		{name: "domain with other port", mutate: func(m *Message) { m.Domain = "example.com:8443" }, code: CodeDomainMismatch},
		{name: "wrong scheme prefix", mutate: func(m *Message) { m.Scheme = "http" }, code: CodeSchemeMismatch},
		{name: "wrong URI host", mutate: func(m *Message) { m.URI = "https://evil.example/auth" }, code: CodeURIMismatch},
		{name: "wrong URI scheme", mutate: func(m *Message) { m.URI = "http://example.com/auth" }, code: CodeURIMismatch},
		{name: "wrong URI port", mutate: func(m *Message) { m.URI = "https://example.com:444/auth" }, code: CodeURIMismatch},
		{name: "URI host suffix trick", mutate: func(m *Message) { m.URI = "https://example.com.evil.example/" }, code: CodeURIMismatch},
		{name: "URI with userinfo", mutate: func(m *Message) { m.URI = "https://example.com@evil.example/" }, code: CodeURIMismatch},
		{name: "URI userinfo on our host", mutate: func(m *Message) { m.URI = "https://me@example.com/" }, code: CodeURIMismatch},
		{name: "URI without authority", mutate: func(m *Message) { m.URI = "urn:example.com" }, code: CodeURIMismatch},
		{name: "domain with leading zero port", mutate: func(m *Message) { m.Domain = "example.com:0443" }, code: CodeDomainMismatch},
		{name: "URI with explicit http default port", mutate: func(m *Message) { m.URI = "http://example.com:80/" }, code: CodeURIMismatch},
		{name: "wrong chain", mutate: func(m *Message) { m.ChainID = 1 }, code: CodeChainMismatch},
		{name: "expired", mutate: func(m *Message) { e := testNow.Add(-2 * time.Minute); m.ExpirationTime = &e }, code: CodeExpired},
		{name: "expired exactly now with no skew", mutate: func(m *Message) { e := testNow; m.ExpirationTime = &e }, ver: func(v *Verifier) { v.Skew = -1 }, code: CodeExpired},
		{name: "not yet valid", mutate: func(m *Message) { nb := testNow.Add(5 * time.Minute); m.NotBefore = &nb }, code: CodeNotYetValid},
		{name: "stale issued at", mutate: func(m *Message) { m.IssuedAt = testNow.Add(-11 * time.Minute) }, code: CodeStaleIssuedAt},
		{name: "stale issued at with default max age", mutate: func(m *Message) { m.IssuedAt = testNow.Add(-DefaultMaxAge - time.Second) }, ver: func(v *Verifier) { v.MaxAge = 0 }, code: CodeStaleIssuedAt},
		{name: "issued in the future", mutate: func(m *Message) { m.IssuedAt = testNow.Add(2 * time.Minute) }, code: CodeIssuedInFuture},
		{name: "garbled message", text: func(s string) string { return strings.Replace(s, "Version: 1", "Versoin: 1", 1) }, code: CodeMalformedMessage},
		{name: "lowercase address", text: func(s string) string { return strings.Replace(s, addr.Hex(), strings.ToLower(addr.Hex()), 1) }, code: CodeMalformedMessage},
		{name: "message too long", text: func(s string) string {
			return s + "\nResources:\n- https://example.com/" + strings.Repeat("a", MaxMessageLength)
		}, code: CodeMessageTooLong},
		{name: "tampered after signing", text: func(s string) string {
			return strings.Replace(s, "Sign in to ModelFactory.", "Sign in to ModelFactory!", 1)
		}, code: CodeAddressMismatch},
		{name: "2-byte signature", sig: func(*testing.T, []byte, string) []byte { return []byte{0x12, 0x34} }, code: CodeBadSignatureLength},
		{name: "empty signature", sig: func(*testing.T, []byte, string) []byte { return nil }, code: CodeBadSignatureLength},
		{name: "64-byte signature", sig: func(_ *testing.T, s []byte, _ string) []byte { return s[:64] }, code: CodeBadSignatureLength},
		{name: "66-byte signature", sig: func(_ *testing.T, s []byte, _ string) []byte { return append(append([]byte{}, s...), 0) }, code: CodeBadSignatureLength},
		{name: "signature by another key", sig: func(t *testing.T, _ []byte, text string) []byte { return sign(t, other, text) }, code: CodeAddressMismatch},
		{name: "v = 29", sig: func(_ *testing.T, s []byte, _ string) []byte { c := append([]byte{}, s...); c[64] = 29; return c }, code: CodeBadSignature},
		{name: "v = 2", sig: func(_ *testing.T, s []byte, _ string) []byte { c := append([]byte{}, s...); c[64] = 2; return c }, code: CodeBadSignature},
		{name: "r = 0", sig: func(_ *testing.T, s []byte, _ string) []byte { c := append([]byte{}, s...); clear(c[:32]); return c }, code: CodeBadSignature},
		{name: "s = 0", sig: func(_ *testing.T, s []byte, _ string) []byte { c := append([]byte{}, s...); clear(c[32:64]); return c }, code: CodeBadSignature},
		{name: "r >= N", sig: func(_ *testing.T, s []byte, _ string) []byte {
			c := append([]byte{}, s...)
			n.FillBytes(c[:32])
			return c
		}, code: CodeBadSignature},
		{name: "all 0xff", sig: func(*testing.T, []byte, string) []byte { return []byte(strings.Repeat("\xff", 65)) }, code: CodeBadSignature},
		{name: "malleable high-s twin", sig: func(t *testing.T, s []byte, text string) []byte {
			c := append([]byte{}, s...)
			hs := new(big.Int).Sub(n, new(big.Int).SetBytes(c[32:64]))
			hs.FillBytes(c[32:64])
			c[64] = 27 + ((c[64] - 27) ^ 1) // 27 <-> 28
			// go-ethereum alone would accept this twin; the rejection is ours.
			rec := append([]byte{}, c...)
			rec[64] -= 27
			pub, err := crypto.SigToPub(accounts.TextHash([]byte(text)), rec)
			if err != nil || crypto.PubkeyToAddress(*pub) != addr {
				t.Fatalf("test setup: high-s twin does not recover to signer: %v", err)
			}
			return c
		}, code: CodeBadSignature},
		{name: "unconfigured verifier", ver: func(v *Verifier) { v.Domain = "" }, code: CodeVerifierMisconfigured},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage(addr)
			if tt.mutate != nil {
				tt.mutate(m)
			}
			text := m.String()
			sig := sign(t, key, text)
			if tt.text != nil {
				text = tt.text(text)
			}
			if tt.sig != nil {
				sig = tt.sig(t, sig, text)
			}
			v := testVerifier()
			if tt.ver != nil {
				tt.ver(v)
			}
			got, err := v.Verify(context.Background(), text, sig)
			wantCode(t, err, tt.code)
			if got != nil {
				t.Fatal("Verify returned a message with an error")
			}
		})
	}
}

func TestVerifySkewTolerance(t *testing.T) {
	key := mustKey(t)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	m := testMessage(addr)
	m.IssuedAt = testNow.Add(30 * time.Second) // wallet clock slightly ahead
	nb := testNow.Add(30 * time.Second)
	m.NotBefore = &nb
	exp := testNow.Add(-30 * time.Second) // just expired by our clock
	m.ExpirationTime = &exp
	text := m.String()
	if _, err := testVerifier().Verify(context.Background(), text, sign(t, key, text)); err != nil {
		t.Fatalf("within skew: %v", err)
	}
	v := testVerifier()
	v.Skew = -1
	_, err := v.Verify(context.Background(), text, sign(t, key, text))
	wantCode(t, err, CodeExpired)
}

func TestVerifyDefaultPortsAreNoPort(t *testing.T) {
	key := mustKey(t)
	for _, tc := range []struct{ domain, uri string }{
		{"example.com:443", "https://example.com/"},
		{"example.com", "https://example.com:443/login"},
		{"EXAMPLE.com", "HTTPS://Example.COM"},
		{"example.com:", "https://example.com:/x"},
	} {
		m := testMessage(crypto.PubkeyToAddress(key.PublicKey))
		m.Domain, m.URI = tc.domain, tc.uri
		text := m.String()
		if _, err := testVerifier().Verify(context.Background(), text, sign(t, key, text)); err != nil {
			t.Errorf("domain %q uri %q: %v", tc.domain, tc.uri, err)
		}
	}
	v, err := NewVerifier("https://example.com:443/", 1337, nil)
	if err != nil || v.Domain != "example.com" || v.Origin != "https://example.com" {
		t.Fatalf("NewVerifier default port: %+v %v", v, err)
	}
}

func TestNewVerifier(t *testing.T) {
	v, err := NewVerifier("http://127.0.0.1:8080", 1337, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Domain != "127.0.0.1:8080" || v.Origin != "http://127.0.0.1:8080" || v.ChainID != 1337 || v.Wallets != nil {
		t.Fatalf("%+v", v)
	}
	v, err = NewVerifier("HTTPS://App.Example.com/some/path", 1, nil)
	if err != nil || v.Domain != "app.example.com" || v.Origin != "https://app.example.com" {
		t.Fatalf("%+v %v", v, err)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x", "https://", "https://u:p@example.com", "::"} {
		if _, err := NewVerifier(bad, 1, nil); err == nil {
			t.Errorf("NewVerifier(%q) accepted", bad)
		}
	}
	if _, err := NewVerifier("https://example.com", 0, nil); err == nil {
		t.Error("chain id 0 accepted")
	}

	// A message produced for the configured URL verifies end to end.
	v, _ = NewVerifier("http://localhost:8080", 1337, nil)
	v.Now = func() time.Time { return testNow }
	key := mustKey(t)
	m := testMessage(crypto.PubkeyToAddress(key.PublicKey))
	m.Domain, m.URI, m.Scheme = "localhost:8080", "http://localhost:8080", "http"
	text := m.String()
	if _, err := v.Verify(context.Background(), text, sign(t, key, text)); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeSignature(t *testing.T) {
	good := "0x" + strings.Repeat("ab", 65)
	b, err := DecodeSignature(good)
	if err != nil || len(b) != 65 || b[0] != 0xab {
		t.Fatalf("DecodeSignature(good) = %x, %v", b, err)
	}
	if b, err := DecodeSignature("0x1234"); err != nil || len(b) != 2 {
		t.Fatalf("2 bytes: %x %v (length is Verify's business)", b, err)
	}
	if b, err := DecodeSignature("0xABCDef"); err != nil || len(b) != 3 {
		t.Fatalf("mixed case: %x %v", b, err)
	}
	for _, tc := range []struct{ in, code string }{
		{"", CodeMalformedSignature},
		{strings.Repeat("ab", 65), CodeMalformedSignature},
		{"0X" + strings.Repeat("ab", 65), CodeMalformedSignature},
		{"0x", CodeBadSignatureLength},
		{"0x123", CodeMalformedSignature},
		{"0xzz", CodeMalformedSignature},
		{"0x" + strings.Repeat("ab", 64) + "a ", CodeMalformedSignature},
		{"0x" + strings.Repeat("00", MaxSignatureLength+1), CodeBadSignatureLength},
	} {
		_, err := DecodeSignature(tc.in)
		var se *Error
		if !errors.As(err, &se) || se.Code != tc.code {
			t.Errorf("DecodeSignature(%.20q) = %v, want %s", tc.in, err, tc.code)
		}
	}
}

func TestErrorWrapsCause(t *testing.T) {
	cause := errors.New("connection refused")
	err := error(&Error{Code: CodeChainUnavailable, Message: "x", Err: cause})
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "chain_unavailable") {
		t.Fatalf("%v", err)
	}
}
