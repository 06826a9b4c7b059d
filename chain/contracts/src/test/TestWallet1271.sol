// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @title Minimal EIP-1271 contract wallet, for tests only
/// @notice A signature is valid when it is an ECDSA signature of the hash by
/// the wallet's owner. Used to test Sign-In with Ethereum for contract wallets.
contract TestWallet1271 is IERC1271 {
    /// @notice The EOA whose signatures this wallet accepts.
    address public immutable owner;

    /// @param owner_ The EOA whose signatures this wallet accepts.
    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice EIP-1271 check.
    /// @param hash The signed digest (for SIWE: the EIP-191 hash of the message).
    /// @param signature A 65-byte ECDSA signature.
    /// @return magicValue 0x1626ba7e when `owner` signed `hash`, else 0xffffffff.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4 magicValue) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && signer == owner) {
            return IERC1271.isValidSignature.selector;
        }
        return 0xffffffff;
    }
}
