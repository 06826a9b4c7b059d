package siwe

import "fmt"

// Error codes returned in [Error.Code]. They are stable identifiers that the
// web layer may put in JSON error envelopes; the messages are for people.
const (
	CodeMessageTooLong         = "message_too_long"
	CodeMalformedMessage       = "malformed_message"
	CodeDomainMismatch         = "domain_mismatch"
	CodeSchemeMismatch         = "scheme_mismatch"
	CodeURIMismatch            = "uri_mismatch"
	CodeChainMismatch          = "chain_mismatch"
	CodeExpired                = "expired"
	CodeNotYetValid            = "not_yet_valid"
	CodeStaleIssuedAt          = "stale_issued_at"
	CodeIssuedInFuture         = "issued_in_future"
	CodeMalformedSignature     = "malformed_signature"
	CodeBadSignatureLength     = "bad_signature_length"
	CodeBadSignature           = "bad_signature"
	CodeAddressMismatch        = "address_mismatch"
	CodeContractWalletRejected = "contract_wallet_rejected"
	CodeChainUnavailable       = "chain_unavailable"
	CodeVerifierMisconfigured  = "verifier_misconfigured"
)

// Error is the only error type returned by [Parse], [DecodeSignature] and
// [Verifier.Verify]. Code is a stable machine-readable reason; Message is a
// sentence safe to show to the person signing in: it may quote a short,
// already-validated printable-ASCII fragment such as the message's domain,
// never the whole message or the signature (escape it like any user text).
// Err, when set, is the underlying cause
// (for example a JSON-RPC transport error) and is meant for logs only.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("siwe: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("siwe: %s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// malformed builds a malformed_message error naming the offending line, so
// someone composing messages by hand can see what to fix.
func malformed(format string, args ...any) *Error {
	return &Error{Code: CodeMalformedMessage, Message: "The sign-in message is not a valid EIP-4361 message: " + fmt.Sprintf(format, args...) + "."}
}
