// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Cumulative Merkle distributor for OPEN rewards
/// @notice Each epoch the operator posts one Merkle root over leaves
/// (account, cumulativeAmount): the total an account has earned up to and
/// including that epoch. A claim pays the difference between that total and
/// what the account has already claimed, so one claim settles any number of
/// epochs and an account can never receive more than the latest root allows.
/// Leaves use OpenZeppelin StandardMerkleTree encoding for
/// ["address","uint256"]: keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))).
/// @dev Roles: DEFAULT_ADMIN_ROLE manages roles and pauses; OPERATOR_ROLE posts
/// roots. There is deliberately no function that moves tokens other than claim.
contract RewardsDistributor is AccessControl, Pausable {
    using SafeERC20 for IERC20;

    /// @notice Role allowed to post epoch roots.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice The number of the latest posted epoch (0 before the first root).
    /// @dev Declared first so it packs into Pausable's slot.
    uint64 public epoch;

    /// @notice The token paid out (OPEN).
    IERC20 public immutable token;

    /// @notice The Merkle root of the latest epoch.
    bytes32 public merkleRoot;

    /// @notice Cumulative amount already paid to each account.
    mapping(address account => uint256) public claimed;

    /// @notice A root was posted for `epoch`.
    /// @param epoch The epoch number, one more than the previous one.
    /// @param root The Merkle root over (account, cumulativeAmount) leaves.
    /// @param totalCumulative The sum of all cumulative amounts in the tree, for auditing funding.
    event RootPosted(uint64 indexed epoch, bytes32 root, uint256 totalCumulative);

    /// @notice `amount` was paid to `account`, whose claimed total is now `cumulativeAmount`.
    /// @param account The account paid.
    /// @param amount The amount paid by this claim.
    /// @param cumulativeAmount The account's claimed total after this claim.
    /// @param epoch The epoch whose root proved the claim.
    event Claimed(address indexed account, uint256 amount, uint256 cumulativeAmount, uint64 indexed epoch);

    /// @notice The zero address was given where an account is required.
    error ZeroAddress();
    /// @notice A root was posted for an epoch other than the next one.
    error UnexpectedEpoch(uint64 expected, uint64 got);
    /// @notice The zero root was posted.
    error ZeroRoot();
    /// @notice The proof does not show (account, cumulativeAmount) in the current root.
    error InvalidProof();
    /// @notice The account has already claimed `alreadyClaimed` >= `cumulativeAmount`.
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);

    /// @param token_ The ERC-20 token to distribute.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (role management, pause).
    /// @param operator Receives OPERATOR_ROLE (root posting); may be the zero address to grant later.
    constructor(IERC20 token_, address admin, address operator) {
        if (address(token_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (operator != address(0)) {
            _grantRole(OPERATOR_ROLE, operator);
        }
    }

    /// @notice Posts the root of epoch `newEpoch`, replacing the previous root.
    /// @dev Epochs must be posted in order, one at a time, so a retried
    /// transaction can never install two roots for the same epoch.
    /// @param newEpoch Must equal epoch() + 1.
    /// @param root The Merkle root over (account, cumulativeAmount) leaves; not zero.
    /// @param totalCumulative The sum of the tree's cumulative amounts (emitted only).
    function postRoot(uint64 newEpoch, bytes32 root, uint256 totalCumulative) external onlyRole(OPERATOR_ROLE) {
        uint64 expected = epoch + 1;
        if (newEpoch != expected) {
            revert UnexpectedEpoch(expected, newEpoch);
        }
        if (root == bytes32(0)) {
            revert ZeroRoot();
        }
        epoch = newEpoch;
        merkleRoot = root;
        emit RootPosted(newEpoch, root, totalCumulative);
    }

    /// @notice Pays `account` its unclaimed rewards. Anyone may submit the
    /// claim; the tokens always go to `account`.
    /// @param account The account in the leaf.
    /// @param cumulativeAmount The account's cumulative total in the current root.
    /// @param proof The Merkle proof of the leaf against merkleRoot().
    /// @return amount The amount paid.
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        whenNotPaused
        returns (uint256 amount)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, merkleRoot, leaf)) {
            revert InvalidProof();
        }
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) {
            revert NothingToClaim(account, cumulativeAmount, already);
        }
        unchecked {
            amount = cumulativeAmount - already;
        }
        // Effects before the interaction: the token transfer is the last step.
        claimed[account] = cumulativeAmount;
        emit Claimed(account, amount, cumulativeAmount, epoch);
        token.safeTransfer(account, amount);
    }

    /// @notice How much claim(account, cumulativeAmount, proof) would pay now.
    /// @param account The account in the leaf.
    /// @param cumulativeAmount The account's cumulative total in the current root.
    /// @param proof The Merkle proof of the leaf against merkleRoot().
    /// @return The claimable amount; 0 when the proof is invalid or nothing is left.
    function claimable(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        view
        returns (uint256)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, merkleRoot, leaf)) {
            return 0;
        }
        uint256 already = claimed[account];
        return cumulativeAmount > already ? cumulativeAmount - already : 0;
    }

    /// @notice Stops claims (root posting continues). Admin only.
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @notice Resumes claims. Admin only.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }
}
