"""The signing ceremony: passphrase-protected signer keys and signing sessions."""
