package siwe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/chain"
)

// Defaults used when the corresponding [Verifier] field is zero.
const (
	DefaultMaxAge = 10 * time.Minute
	DefaultSkew   = time.Minute
)

// MaxSignatureLength bounds the decoded signature size. EOA signatures are 65
// bytes; contract wallets (multisigs) concatenate several, and 8 KiB covers
// well over a hundred signers.
const MaxSignatureLength = 8192

// ContractCaller is what EIP-1271 verification needs from a chain client:
// CodeAt to tell contract accounts from EOAs and CallContract to ask the
// contract. *ethclient.Client and the simulated backend's client satisfy it.
type ContractCaller interface {
	chain.CodeReader
	CallContract(ctx context.Context, call ethereum.CallMsg, blockNumber *big.Int) ([]byte, error)
}

// Verifier checks signed Sign-In with Ethereum messages for one site and
// chain. Its fields are read-only after construction and it is safe for
// concurrent use.
//
// Verify checks the nonce's format only: whether a nonce was issued by this
// server and is being used for the first time must be decided by the caller,
// atomically (the web layer deletes the nonce row in PostgreSQL and fails the
// sign-in if no row was deleted).
type Verifier struct {
	// Domain is the expected message domain: host[:port] of MF_PUBLIC_URL.
	// Compared case-insensitively, as hosts are.
	Domain string
	// Origin is the expected origin of the message URI,
	// scheme://host[:port] of MF_PUBLIC_URL.
	Origin string
	// ChainID is the chain the message must name.
	ChainID uint64
	// MaxAge is how old Issued At may be; zero means DefaultMaxAge.
	MaxAge time.Duration
	// Skew is the clock difference tolerated between the wallet and this
	// server for Issued At, Expiration Time and Not Before; zero means
	// DefaultSkew, negative means none.
	Skew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Wallets, when set, lets addresses with code (contract wallets) sign
	// in through EIP-1271. When nil only EOA signatures are accepted.
	Wallets ContractCaller
}

// NewVerifier returns a Verifier for a site served at publicURL (such as
// "https://app.example.com" or "http://127.0.0.1:8080") on chainID. wallets
// may be nil.
func NewVerifier(publicURL string, chainID uint64, wallets ContractCaller) (*Verifier, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, newError(CodeVerifierMisconfigured, "The public URL %q must be an absolute http or https URL without credentials.", publicURL)
	}
	if chainID == 0 {
		return nil, newError(CodeVerifierMisconfigured, "The chain ID must not be zero.")
	}
	scheme := strings.ToLower(u.Scheme)
	host := stripDefaultPort(scheme, strings.ToLower(u.Host))
	return &Verifier{
		Domain:  host,
		Origin:  scheme + "://" + host,
		ChainID: chainID,
		Wallets: wallets,
	}, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxAge() time.Duration {
	if v.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return v.MaxAge
}

func (v *Verifier) skew() time.Duration {
	switch {
	case v.Skew < 0:
		return 0
	case v.Skew == 0:
		return DefaultSkew
	}
	return v.Skew
}

// Verify parses message, checks it against the verifier's site, chain and
// clock, and checks signature over it. On success it returns the parsed
// message; the caller must still consume the nonce (see [Verifier]).
//
// The checks, in order: length cap, strict parse, domain, scheme (when the
// message has one), URI origin, chain ID, Expiration Time, Not Before,
// Issued At age, then the signature:
//
//   - A 65-byte signature with v in {0, 1, 27, 28} and a low s value (EIP-2)
//     that recovers, over the EIP-191 personal_sign hash of message, to the
//     message address is accepted without touching the chain.
//   - Otherwise, when Wallets is set and the address has code, the contract
//     decides through EIP-1271 isValidSignature(hash, signature) with the
//     signature bytes exactly as given (contract wallets use other lengths).
//   - Otherwise the signature is rejected: bad_signature_length unless it is
//     exactly 65 bytes, bad_signature for an invalid v, r or s (including
//     malleable high-s signatures), address_mismatch when it was made by
//     another key.
//
// Every failure is an [*Error]. The result depends only on the inputs, the
// clock and the chain state, so repeating a call repeats its result.
func (v *Verifier) Verify(ctx context.Context, message string, signature []byte) (*Message, error) {
	if v.Domain == "" || v.Origin == "" {
		return nil, newError(CodeVerifierMisconfigured, "Sign-in is not configured on this server.")
	}
	m, err := Parse(message)
	if err != nil {
		return nil, err
	}
	if err := v.checkSite(m); err != nil {
		return nil, err
	}
	if m.ChainID != v.ChainID {
		return nil, newError(CodeChainMismatch, "The message is for chain %d but this site uses chain %d. Switch your wallet's network and try again.", m.ChainID, v.ChainID)
	}
	if err := v.checkTimes(m); err != nil {
		return nil, err
	}
	if err := v.checkSignature(ctx, m.Address, message, signature); err != nil {
		return nil, err
	}
	return m, nil
}

// checkSite compares the message's domain, scheme and URI with the site.
// Hosts and schemes compare case-insensitively and a default port (80 for
// http, 443 for https) equals no port, as in browser origins: a wallet fills
// the domain from location.host, which omits default ports.
func (v *Verifier) checkSite(m *Message) error {
	wantScheme, wantHost, _ := strings.Cut(strings.TrimSuffix(strings.ToLower(v.Origin), "/"), "://")
	wantHost = stripDefaultPort(wantScheme, wantHost)
	if stripDefaultPort(wantScheme, strings.ToLower(m.Domain)) != stripDefaultPort(wantScheme, strings.ToLower(v.Domain)) {
		return newError(CodeDomainMismatch, "The message was prepared for %s, not for this site (%s).", m.Domain, v.Domain)
	}
	if m.Scheme != "" && !strings.EqualFold(m.Scheme, wantScheme) {
		return newError(CodeSchemeMismatch, "The message was prepared for a %s:// page, but this site is served over %s://.", m.Scheme, wantScheme)
	}
	u, ok := parseURI(m.URI)
	if !ok || !u.HasAuthority || u.Authority.HasUserInfo {
		return newError(CodeURIMismatch, "The message URI must be an address on this site (%s).", v.Origin)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Authority.Host)
	if u.Authority.HasPort {
		host += ":" + u.Authority.Port
	}
	host = stripDefaultPort(scheme, host)
	if scheme != wantScheme || host != wantHost {
		return newError(CodeURIMismatch, "The message URI points to %s://%s, not to this site (%s).", scheme, host, v.Origin)
	}
	return nil
}

// stripDefaultPort removes ":80" from http and ":443" from https
// authorities, and a bare ":" (an empty port) from any.
func stripDefaultPort(scheme, hostport string) string {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || strings.HasSuffix(hostport, "]") {
		return hostport
	}
	switch port := hostport[i+1:]; {
	case port == "",
		scheme == "http" && port == "80",
		scheme == "https" && port == "443":
		return hostport[:i]
	}
	return hostport
}

func (v *Verifier) checkTimes(m *Message) error {
	now, skew := v.now(), v.skew()
	if m.ExpirationTime != nil && !now.Before(m.ExpirationTime.Add(skew)) {
		return newError(CodeExpired, "The sign-in message expired at %s. Please sign in again.", m.ExpirationTime.UTC().Format(time.RFC3339))
	}
	if m.NotBefore != nil && now.Add(skew).Before(*m.NotBefore) {
		return newError(CodeNotYetValid, "The sign-in message is not valid before %s. Check your device clock.", m.NotBefore.UTC().Format(time.RFC3339))
	}
	if m.IssuedAt.After(now.Add(skew)) {
		return newError(CodeIssuedInFuture, "The sign-in message says it was issued in the future (%s). Check your device clock.", m.IssuedAt.UTC().Format(time.RFC3339))
	}
	if now.Sub(m.IssuedAt) > v.maxAge() {
		return newError(CodeStaleIssuedAt, "The sign-in message was issued more than %s ago. Please sign in again.", v.maxAge())
	}
	return nil
}

// secp256k1HalfN is N/2; EIP-2 signatures have s <= N/2.
var secp256k1HalfN = new(big.Int).Rsh(crypto.S256().Params().N, 1)

func (v *Verifier) checkSignature(ctx context.Context, addr common.Address, message string, sig []byte) error {
	hash := accounts.TextHash([]byte(message))
	recovered, eoaErr := recoverEOA(hash, sig)
	if eoaErr == nil && recovered == addr {
		return nil
	}
	if eoaErr == nil {
		eoaErr = newError(CodeAddressMismatch, "The signature was made by %s, not by %s. Sign with the account named in the message.", recovered.Hex(), addr.Hex())
	}
	if v.Wallets == nil {
		return eoaErr
	}
	hasCode, err := chain.HasCode(ctx, v.Wallets, addr)
	if err != nil {
		return &Error{Code: CodeChainUnavailable, Message: "The blockchain node could not be reached to check your wallet. Please try again shortly.", Err: err}
	}
	if !hasCode {
		return eoaErr
	}
	var digest [32]byte
	copy(digest[:], hash)
	ok, err := chain.VerifyEIP1271(ctx, v.Wallets, addr, digest, sig)
	if err != nil {
		return &Error{Code: CodeChainUnavailable, Message: "The blockchain node could not be reached to check your contract wallet. Please try again shortly.", Err: err}
	}
	if !ok {
		return newError(CodeContractWalletRejected, "Your contract wallet %s did not accept this signature.", addr.Hex())
	}
	return nil
}

// recoverEOA returns the signer of a 65-byte [R || S || V] signature over
// hash. go-ethereum's Ecrecover accepts high-s signatures; they are rejected
// here because wallets only produce low-s ones (EIP-2) and the high-s twin of
// a signature is a second, malleable encoding of it.
func recoverEOA(hash []byte, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, newError(CodeBadSignatureLength, "The signature must be exactly %d bytes, got %d.", crypto.SignatureLength, len(sig))
	}
	rsv := make([]byte, crypto.SignatureLength)
	copy(rsv, sig)
	switch rsv[64] {
	case 0, 1:
	case 27, 28:
		rsv[64] -= 27
	default:
		return common.Address{}, newError(CodeBadSignature, "The signature's recovery byte must be 0, 1, 27 or 28.")
	}
	r, s := new(big.Int).SetBytes(rsv[:32]), new(big.Int).SetBytes(rsv[32:64])
	if !crypto.ValidateSignatureValues(rsv[64], r, s, true) || s.Cmp(secp256k1HalfN) > 0 {
		return common.Address{}, newError(CodeBadSignature, "The signature is not a valid secp256k1 signature.")
	}
	pub, err := crypto.SigToPub(hash, rsv)
	if err != nil {
		return common.Address{}, newError(CodeBadSignature, "The signature is not a valid secp256k1 signature.")
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// DecodeSignature decodes a 0x-prefixed hex signature as sent by
// personal_sign. It checks encoding and bounds (1 to MaxSignatureLength
// bytes) but not the exact length: EOA signatures must be 65 bytes, which
// [Verifier.Verify] enforces, while contract wallets may use other lengths.
func DecodeSignature(hexSig string) ([]byte, error) {
	h, ok := strings.CutPrefix(hexSig, "0x")
	if !ok {
		return nil, newError(CodeMalformedSignature, "The signature must be hexadecimal starting with 0x.")
	}
	if len(h) == 0 || len(h) > 2*MaxSignatureLength {
		return nil, newError(CodeBadSignatureLength, "The signature must be between 1 and %d bytes.", MaxSignatureLength)
	}
	if len(h)%2 != 0 {
		return nil, newError(CodeMalformedSignature, "The signature has an odd number of hexadecimal digits.")
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, newError(CodeMalformedSignature, "The signature contains characters that are not hexadecimal digits.")
	}
	return b, nil
}

// NewNonce returns a fresh 24-character alphanumeric nonce from crypto/rand
// (about 143 bits), suitable for EIP-4361.
func NewNonce() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 24)
	buf := make([]byte, 64)
	for n := 0; n < len(out); {
		// crypto/rand.Read never returns an error (Go 1.24+).
		rand.Read(buf)
		for _, c := range buf {
			// Rejection sampling: 248 = 4*62 keeps the choice uniform.
			if c < 248 && n < len(out) {
				out[n] = alphabet[int(c)%len(alphabet)]
				n++
			}
		}
	}
	return string(out)
}
