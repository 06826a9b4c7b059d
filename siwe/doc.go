// Package siwe parses and verifies Sign-In with Ethereum (EIP-4361) messages.
//
// It is a strict, self-contained implementation on go-ethereum: [Parse]
// follows the EIP-4361 ABNF exactly (EIP-55 addresses, RFC 3339 timestamps,
// RFC 3986 URIs, no extra or missing lines), [Verifier.Verify] binds a
// message to one site, chain and time window and checks the EIP-191
// personal_sign signature, falling back to EIP-1271 for contract wallets.
//
// The package does no HTTP and no SQL. In particular, nonce single use is not
// checked here: the caller issues nonces and must consume them atomically
// (see [Verifier]). All errors are [*Error] values whose Code is stable and
// whose Message can be shown to users; no input makes the package panic.
package siwe
