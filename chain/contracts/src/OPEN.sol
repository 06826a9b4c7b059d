// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title OPEN, the OpenLedger token
/// @notice ERC-20 with a fixed supply of 1,000,000,000 OPEN (18 decimals), all
/// minted once to a treasury at deployment. ERC20Permit allows gasless
/// approvals; ERC20Votes keeps delegation checkpoints for later governance.
/// There is no mint or burn function: the supply can never change.
contract OPEN is ERC20, ERC20Permit, ERC20Votes {
    /// @notice The fixed total supply, in wei (1e9 * 1e18).
    uint256 public constant TOTAL_SUPPLY = 1_000_000_000 * 1e18;

    /// @notice Mints the whole supply to `treasury`.
    /// @param treasury The account that receives TOTAL_SUPPLY; must not be zero.
    constructor(address treasury) ERC20("OpenLedger", "OPEN") ERC20Permit("OpenLedger") {
        if (treasury == address(0)) {
            revert ERC20InvalidReceiver(address(0));
        }
        _mint(treasury, TOTAL_SUPPLY);
    }

    /// @dev Moves voting units along with balances.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    /// @notice The next permit nonce of `owner`.
    /// @param owner The token holder.
    /// @return The nonce the next permit signature of `owner` must use.
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
