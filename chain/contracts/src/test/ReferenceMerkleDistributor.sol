// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Gas reference: a one-shot Merkle airdrop in the style of Uniswap's MerkleDistributor
/// @notice For benchmarks only. Immutable root, leaves
/// keccak256(abi.encodePacked(index, account, amount)), claimed flags packed
/// 256 to a storage word. It is the cheapest common design per claim and is
/// what the RewardsDistributor's claim gas is compared against.
contract ReferenceMerkleDistributor {
    using SafeERC20 for IERC20;

    /// @notice The token paid out.
    IERC20 public immutable token;
    /// @notice The fixed Merkle root.
    bytes32 public immutable merkleRoot;

    mapping(uint256 => uint256) private _claimedBitMap;

    /// @notice Leaf `index` paid `amount` to `account`.
    event Claimed(uint256 index, address account, uint256 amount);

    /// @notice The leaf was already claimed.
    error AlreadyClaimed();
    /// @notice The proof is invalid.
    error InvalidProof();

    /// @param token_ The token paid out.
    /// @param merkleRoot_ The fixed Merkle root.
    constructor(IERC20 token_, bytes32 merkleRoot_) {
        token = token_;
        merkleRoot = merkleRoot_;
    }

    /// @notice Whether leaf `index` was claimed.
    /// @param index The leaf index.
    /// @return True when claimed.
    function isClaimed(uint256 index) public view returns (bool) {
        uint256 word = _claimedBitMap[index / 256];
        uint256 mask = 1 << (index % 256);
        return word & mask == mask;
    }

    /// @notice Pays leaf (index, account, amount) once.
    /// @param index The leaf index.
    /// @param account The account paid.
    /// @param amount The amount paid.
    /// @param proof The Merkle proof.
    function claim(uint256 index, address account, uint256 amount, bytes32[] calldata proof) external {
        if (isClaimed(index)) revert AlreadyClaimed();
        bytes32 leaf = keccak256(abi.encodePacked(index, account, amount));
        if (!MerkleProof.verifyCalldata(proof, merkleRoot, leaf)) revert InvalidProof();
        _claimedBitMap[index / 256] |= 1 << (index % 256);
        token.safeTransfer(account, amount);
        emit Claimed(index, account, amount);
    }
}
