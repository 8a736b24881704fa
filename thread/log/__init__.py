"""The verifiable log: RFC 6962 Merkle tree, C2SP checkpoints, proofs, audit and dossiers.

Nothing is imported here, so that an auditor's ``import thread.log.offline`` or
``import thread.log.verify`` loads the verifier and nothing of the storage layer.
"""
