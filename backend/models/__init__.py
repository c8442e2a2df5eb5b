"""The TCMR network: ResNet-50 trunk (resnet), temporal encoder (temporal), iterative regressor
(regressor), SMPL layer with the 49 TCMR joints (smpl), rotation conversions (geometry), safe
strict checkpoint reading (checkpoint), loading a data folder (loading) and running it
(inference). The public API is pinned in docs/INTERNALS.md ("Model API")."""
