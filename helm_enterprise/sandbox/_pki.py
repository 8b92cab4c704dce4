"""Certificates for the sandbox: CAs and leaf certificates, created once and reused.

Every key is ECDSA P-256 (fast to generate, accepted by Kubernetes, etcd, nginx, Vault,
Go's and Python's TLS stacks). A certificate is re-issued when it is missing, expires
within 30 days or was signed by another CA (for example after a CA was deleted by hand).
Private keys are written 0600 into a 0700 directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)
LOOPBACK_DNS = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign,
        crl_sign=sign,
        encipher_only=False,
        decipher_only=False,
    )


class Pki:
    """Certificates and keys in one directory, named ``<name>.crt`` / ``<name>.key``."""

    def __init__(self, directory: Path, owner: str) -> None:
        self.dir = directory
        self.owner = owner  # goes into CA common names, to tell sandboxes apart

    def path(self, name: str) -> Path:
        return self.dir / name

    def ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)

    @staticmethod
    def expiring(cert: x509.Certificate) -> bool:
        return cert.not_valid_after_utc - now() < RENEW_BEFORE

    def ca(self, name: str = "ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """Load or create the self-signed CA ``<name>.crt``/``<name>.key``."""
        self.ensure_dir()
        crt, key_file = self.path(f"{name}.crt"), self.path(f"{name}.key")
        if crt.exists() and key_file.exists():
            cert = x509.load_pem_x509_certificate(crt.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), None)
            if isinstance(key, ec.EllipticCurvePrivateKey) and not self.expiring(cert):
                return cert, key
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"helm-enterprise-{self.owner}-{name}")]
        )
        t = now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(t - datetime.timedelta(minutes=5))
            .not_valid_after(t + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        write_private(key_file, key_pem(key))
        crt.write_bytes(cert_pem(cert))
        return cert, key

    def leaf(
        self,
        name: str,
        ca: str,
        common_name: str,
        *,
        orgs: Sequence[str] = (),
        server: bool = False,
        client: bool = False,
        dns: Sequence[str] = LOOPBACK_DNS,
        ips: Sequence[str] = LOOPBACK_IPS,
        force: bool = False,
    ) -> tuple[Path, Path]:
        """Load or issue ``<name>.crt``/``<name>.key`` signed by CA ``ca``; return both paths.

        Serving certificates carry ``dns`` and ``ips`` as subject alternative names.
        """
        ca_cert, ca_key = self.ca(ca)
        crt, key_file = self.path(f"{name}.crt"), self.path(f"{name}.key")
        if not force and crt.exists() and key_file.exists():
            cert = x509.load_pem_x509_certificate(crt.read_bytes())
            if cert.issuer == ca_cert.subject and not self.expiring(cert):
                return crt, key_file
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        t = now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(t - datetime.timedelta(minutes=5))
            .not_valid_after(t + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(d) for d in dns]
                    + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        write_private(key_file, key_pem(key))
        crt.write_bytes(cert_pem(cert))
        return crt, key_file
