"""The lab's own certificate authority and a server certificate for 127.0.0.1, made at start.

Clients trust the lab the standard way: a bundle of the usual roots plus the lab's CA, named by
``REQUESTS_CA_BUNDLE`` (requests, azure-core) and ``SSL_CERT_FILE`` (OpenSSL, httpx, aiohttp).
The CA is made once per Python process and never outlives it: aiohttp builds its default TLS
context when first imported, so a lab started again in the same kernel must keep the same CA.
"""

from __future__ import annotations

import atexit
import datetime as dt
import ipaddress
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    """Where one lab's TLS material lives on disk."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    bundle: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Go Keyless lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Authority:
    """The process's lab CA: its key stays in memory; its certificate and the bundle are on disk."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    ca_cert: Path
    bundle: Path


_authority: Authority | None = None
_authority_lock = threading.Lock()


def _validity(cert: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return cert.not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))


def authority() -> Authority:
    """This process's lab CA, made on first use; its files are removed when the process exits."""
    global _authority
    with _authority_lock:
        if _authority is None:
            _authority = _new_authority(Path(tempfile.mkdtemp(prefix="keyless-lab-ca-")))
            atexit.register(shutil.rmtree, _authority.ca_cert.parent, True)
        return _authority


def _new_authority(directory: Path) -> Authority:
    # EC keys keep the lab's start well under a second; RSA is only needed for token signing.
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("Go Keyless lab CA")
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _validity(builder, days=7).sign(key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM)
    ca_path, bundle = directory / "lab-ca.pem", directory / "ca-bundle.pem"
    ca_path.write_bytes(pem)
    # The usual public roots stay trusted, so real Azure still works from the same process.
    roots = Path(certifi.where()).read_bytes()
    bundle.write_bytes(roots.rstrip(b"\n") + b"\n" + pem)
    return Authority(key, cert, ca_path, bundle)


def create(directory: Path) -> TlsFiles:
    """Write a server certificate for 127.0.0.1/localhost, signed by the process's lab CA."""
    ca = authority()
    server_key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    server_cert = _validity(builder, days=2).sign(ca.key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_cert=ca.ca_cert,
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        bundle=ca.bundle,
    )
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.touch(mode=0o600)
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
