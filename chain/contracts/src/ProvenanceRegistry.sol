// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Provenance registry for Datanet versions and models
/// @notice Anchors, once and for all, what a published Datanet version
/// contains (the Merkle root over its records) and what a model was trained
/// from (base model, adapter, and the Datanet versions used). Entries are
/// write-once: nobody, not even the registrar, can change or delete them.
/// @dev DEFAULT_ADMIN_ROLE manages roles; REGISTRAR_ROLE writes entries.
contract ProvenanceRegistry is AccessControl {
    /// @notice Role allowed to anchor Datanet versions and models.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice A Datanet version as anchored.
    struct DatanetVersion {
        bytes32 merkleRoot;
        uint64 recordCount;
        uint64 anchoredAt;
        address registrar;
        string uri;
    }

    /// @notice A reference to one Datanet version.
    struct DatanetRef {
        bytes32 datanetId;
        uint64 version;
    }

    /// @notice A model as anchored.
    struct Model {
        bytes32 baseModelHash;
        bytes32 adapterHash;
        uint64 anchoredAt;
        address registrar;
        DatanetRef[] datanets;
    }

    mapping(bytes32 key => DatanetVersion) private _versions;
    mapping(bytes32 modelId => Model) private _models;

    /// @notice Datanet `datanetId` version `version` was anchored.
    event DatanetVersionAnchored(
        bytes32 indexed datanetId, uint64 indexed version, bytes32 merkleRoot, uint64 recordCount, string uri
    );

    /// @notice Model `modelId` was anchored.
    event ModelAnchored(bytes32 indexed modelId, bytes32 baseModelHash, bytes32 adapterHash, DatanetRef[] datanets);

    /// @notice The zero address was given where an account is required.
    error ZeroAddress();
    /// @notice The key (datanetId, version) or modelId is already anchored.
    error AlreadyAnchored();
    /// @notice A zero hash was given where a content hash is required.
    error ZeroHash();
    /// @notice The Datanet version is not anchored.
    error DatanetVersionNotAnchored(bytes32 datanetId, uint64 version);
    /// @notice The model is not anchored.
    error ModelNotAnchored(bytes32 modelId);

    /// @param admin Receives DEFAULT_ADMIN_ROLE.
    /// @param registrar Receives REGISTRAR_ROLE; may be the zero address to grant later.
    constructor(address admin, address registrar) {
        if (admin == address(0)) {
            revert ZeroAddress();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (registrar != address(0)) {
            _grantRole(REGISTRAR_ROLE, registrar);
        }
    }

    /// @notice Anchors a published Datanet version. Write-once per (datanetId, version).
    /// @param datanetId The Datanet's identifier.
    /// @param version The version number.
    /// @param merkleRoot The Merkle root over the version's records; not zero.
    /// @param recordCount The number of records in the version.
    /// @param uri Where the version's manifest can be fetched.
    function anchorDatanetVersion(
        bytes32 datanetId,
        uint64 version,
        bytes32 merkleRoot,
        uint64 recordCount,
        string calldata uri
    ) external onlyRole(REGISTRAR_ROLE) {
        if (merkleRoot == bytes32(0)) {
            revert ZeroHash();
        }
        DatanetVersion storage v = _versions[_versionKey(datanetId, version)];
        if (v.merkleRoot != bytes32(0)) {
            revert AlreadyAnchored();
        }
        v.merkleRoot = merkleRoot;
        v.recordCount = recordCount;
        v.anchoredAt = uint64(block.timestamp);
        v.registrar = msg.sender;
        v.uri = uri;
        emit DatanetVersionAnchored(datanetId, version, merkleRoot, recordCount, uri);
    }

    /// @notice Anchors a model and the Datanet versions it was trained on.
    /// Write-once per modelId; every referenced version must already be anchored.
    /// @param modelId The model's identifier.
    /// @param baseModelHash Hash of the base model weights; not zero.
    /// @param adapterHash Hash of the fine-tuned adapter weights; not zero.
    /// @param datanets The Datanet versions used for training.
    function anchorModel(bytes32 modelId, bytes32 baseModelHash, bytes32 adapterHash, DatanetRef[] calldata datanets)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (baseModelHash == bytes32(0) || adapterHash == bytes32(0)) {
            revert ZeroHash();
        }
        Model storage m = _models[modelId];
        if (m.baseModelHash != bytes32(0)) {
            revert AlreadyAnchored();
        }
        m.baseModelHash = baseModelHash;
        m.adapterHash = adapterHash;
        m.anchoredAt = uint64(block.timestamp);
        m.registrar = msg.sender;
        for (uint256 i = 0; i < datanets.length; ++i) {
            DatanetRef calldata r = datanets[i];
            if (_versions[_versionKey(r.datanetId, r.version)].merkleRoot == bytes32(0)) {
                revert DatanetVersionNotAnchored(r.datanetId, r.version);
            }
            m.datanets.push(r);
        }
        emit ModelAnchored(modelId, baseModelHash, adapterHash, datanets);
    }

    /// @notice Whether (datanetId, version) is anchored.
    /// @param datanetId The Datanet's identifier.
    /// @param version The version number.
    /// @return True when anchored.
    function isDatanetVersionAnchored(bytes32 datanetId, uint64 version) external view returns (bool) {
        return _versions[_versionKey(datanetId, version)].merkleRoot != bytes32(0);
    }

    /// @notice Reads an anchored Datanet version; reverts when it is not anchored.
    /// @param datanetId The Datanet's identifier.
    /// @param version The version number.
    /// @return The anchored entry.
    function getDatanetVersion(bytes32 datanetId, uint64 version) external view returns (DatanetVersion memory) {
        DatanetVersion storage v = _versions[_versionKey(datanetId, version)];
        if (v.merkleRoot == bytes32(0)) {
            revert DatanetVersionNotAnchored(datanetId, version);
        }
        return v;
    }

    /// @notice Whether modelId is anchored.
    /// @param modelId The model's identifier.
    /// @return True when anchored.
    function isModelAnchored(bytes32 modelId) external view returns (bool) {
        return _models[modelId].baseModelHash != bytes32(0);
    }

    /// @notice Reads an anchored model; reverts when it is not anchored.
    /// @param modelId The model's identifier.
    /// @return The anchored entry, with the Datanet versions it used.
    function getModel(bytes32 modelId) external view returns (Model memory) {
        Model storage m = _models[modelId];
        if (m.baseModelHash == bytes32(0)) {
            revert ModelNotAnchored(modelId);
        }
        return m;
    }

    function _versionKey(bytes32 datanetId, uint64 version) private pure returns (bytes32) {
        return keccak256(abi.encode(datanetId, version));
    }
}
