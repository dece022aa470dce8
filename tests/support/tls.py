"""Certificates for the TLS tests, made with trustme."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


class Pem:
    """A CA, and a certificate chain (leaf, intermediate) and key issued under it, as files."""

    def __init__(self, folder: Path, key_type: trustme.KeyType = trustme.KeyType.ECDSA) -> None:
        self.ca = trustme.CA()
        leaf = self.ca.create_child_ca().issue_cert(
            "localhost", "127.0.0.1", "::1", key_type=key_type
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.cert = folder / "chain.pem"
        self.key = folder / "key.pem"
        self.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(self.key))
        self.leaf_der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (the intermediate must be sent)."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx
