// Package chain is ModelFactory's link to an EVM chain: the embedded
// go-ethereum development chain used when no JSON-RPC endpoint is configured,
// dialing and readiness checks for any endpoint, and deployment of the OPEN
// token, the RewardsDistributor and the ProvenanceRegistry contracts whose
// Solidity sources live in chain/contracts and whose abigen bindings live in
// chain/bindings.
//
// The package knows nothing of HTTP or of the application's SQL schema.
package chain
