// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Gas reference: push payments to many recipients in one transaction
/// @notice For benchmarks only: the alternative to a Merkle distributor.
contract BatchTransfer {
    using SafeERC20 for IERC20;

    /// @notice The arrays differ in length.
    error LengthMismatch();

    /// @notice Transfers amounts[i] of token from the caller to to[i]; needs an allowance.
    /// @param token The token.
    /// @param to The recipients.
    /// @param amounts The amounts, in wei.
    function batchTransfer(IERC20 token, address[] calldata to, uint256[] calldata amounts) external {
        if (to.length != amounts.length) revert LengthMismatch();
        for (uint256 i = 0; i < to.length; ++i) {
            token.safeTransferFrom(msg.sender, to[i], amounts[i]);
        }
    }
}
