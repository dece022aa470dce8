"""`--cert`/`--key` of `python -m rswsgi.dev` (flask's flags): checking them before
anything is served, and the one adhoc certificate of a `--reload` session.

The certificate itself is read, made and served by the native server
(`make_server(cert=..., key=...)`); this module only holds what the command line adds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from ._rswsgi import _adhoc_certificate, _check_certificate

#: `--cert adhoc`: a self-signed certificate made at start.
ADHOC = "adhoc"


class CertificateError(Exception):
    """`--cert`/`--key` cannot be served; the message is one line."""


def check(cert: str | None, key: str | None) -> str | None:
    """Checks `--cert`/`--key` as flask does (`--key` needs a certificate file,
    a certificate file needs `--key`, `adhoc` takes none) and reads the files as the
    server will. Returns the certificate's SHA-256 fingerprint, or `None` for no
    `--cert` or `--cert adhoc`.

    Raises `CertificateError` with a one-line message."""
    if cert is None:
        if key is not None:
            raise CertificateError(f"--key {key} needs --cert (the certificate of that key)")
        return None
    if cert == ADHOC:
        if key is not None:
            raise CertificateError(
                "--key is not used with --cert adhoc (the adhoc certificate makes its own key)"
            )
        return None
    if key is None:
        raise CertificateError(
            f"--cert {cert} needs --key (the PEM file of the certificate's private key)"
        )
    try:
        return _check_certificate(cert, key)
    except (OSError, ValueError) as e:
        raise CertificateError(" ".join(str(e).split())) from None


def adhoc_banner(fingerprint: str) -> str:
    """The banner line that tells an adhoc certificate apart from an impostor."""
    return (
        "Self-signed certificate for localhost, 127.0.0.1 and ::1; "
        f"SHA-256 fingerprint {fingerprint}"
    )


@contextmanager
def adhoc_files() -> Iterator[tuple[str, str]]:
    """A new adhoc certificate and its key as PEM files `(cert, key)` in a private
    temporary directory (mode 0700, files 0600), removed on exit.

    The `--reload` parent makes one and hands the files to every child, so the
    certificate does not change on each reload: the fingerprint in the banner stays true
    and a browser's exception for the certificate stays valid."""
    cert_pem, key_pem = _adhoc_certificate()
    folder = tempfile.mkdtemp(prefix="rswsgi-adhoc-")
    try:
        paths = []
        for name, text in (("cert.pem", cert_pem), ("key.pem", key_pem)):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            paths.append(path)
        yield paths[0], paths[1]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
