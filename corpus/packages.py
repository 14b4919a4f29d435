"""Checks shared by the readers of ZIP-packaged documents (``.docx``, ``.epub``).

Both formats are ZIP files of XML parts.  Before a library parses one, the
package is opened here so a user sees *why* a file can't be read: an
encrypted Office file (an OLE compound file, not a ZIP), an old ``.doc``
renamed, a truncated download, or a part that would unpack to more memory
than any real document needs (a ZIP bomb).
"""

from __future__ import annotations

import io
import zipfile

from zhsearch.corpus.errors import ReadError

# Bigger files are skipped: a real article, contract or book is far smaller
# (text, not scans), and reading one would hold the run up for minutes.
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
# What all parts of one package may unpack to.
MAX_UNPACKED_BYTES = 500 * 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_size(data: bytes, source: str, limit: int | None = None) -> None:
    """Refuse a file larger than ``limit`` (default :data:`MAX_DOCUMENT_BYTES`)
    with its size in the reason."""
    limit = MAX_DOCUMENT_BYTES if limit is None else limit
    if len(data) > limit:
        raise ReadError(source, f"too large ({len(data) / 2**20:.0f} MB; files over {limit // 2**20} MB are skipped)")


def is_encrypted_ole(data: bytes) -> bool:
    """An OLE compound file holding an encrypted Office package: what Word
    and WPS write for a password-protected ``.docx``."""
    return data.startswith(OLE_MAGIC) and "EncryptionInfo".encode("utf-16-le") in data


def open_package(data: bytes, source: str, kind: str, required: str) -> zipfile.ZipFile:
    """``data`` as a ZIP package that has the part ``required``."""
    if data.startswith(OLE_MAGIC):
        if is_encrypted_ole(data):
            raise ReadError(source, f"password-protected (encrypted) {kind}; remove the password and save it again")
        raise ReadError(source, f"not a {kind}: an OLE file (an old Word 97-2003 .doc renamed?); save it as .docx")
    if not data.startswith(b"PK"):
        raise ReadError(source, f"not a {kind} (not a ZIP package)")
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise ReadError(source, f"truncated or damaged {kind} (not a complete ZIP package)") from None
    names = set(package.namelist())
    if required not in names:
        raise ReadError(source, f"not a {kind} (the package has no {required})")
    unpacked = sum(info.file_size for info in package.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise ReadError(
            source,
            f"too large: unpacks to {unpacked / 2**20:.0f} MB (over {MAX_UNPACKED_BYTES // 2**20} MB; a ZIP bomb?)",
        )
    try:
        bad = package.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ReadError(source, f"truncated or damaged {kind} ({exc})") from None
    if bad is not None:
        raise ReadError(source, f"truncated or damaged {kind} (part {bad} is corrupt)")
    return package
