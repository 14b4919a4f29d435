"""Turn the bytes of a file into text, whatever encoding Chinese text comes in.

Valid UTF-8 (with or without BOM) takes a fast path; UTF-16/32 are recognised
by their BOM; anything else is offered to the Chinese legacy encodings
(GB18030, a superset of GBK and GB2312, and Big5).  When several decode
cleanly, charset-normalizer picks the one whose text reads most coherently.
Binary files are refused so an image never ends up in the index as mojibake.
"""

from __future__ import annotations

import codecs

from corpus.errors import ReadError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LEGACY = ("gb18030", "big5")
# Control characters other than tab/newline/CR/form feed; a file made mostly of
# them is binary even when some codec happens to accept its bytes.
_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r", "\f", "\x1b"}


def decode_bytes(data: bytes, name: str = "<bytes>") -> str:
    """Decode ``data`` to text or raise :class:`ReadError` naming ``name``."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ReadError(name, f"invalid {encoding} after its byte-order mark ({exc.reason})") from None
    if b"\x00" in data:
        raise ReadError(name, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data, name)
    if text and sum(ch in _CONTROL for ch in text[:4096]) > len(text[:4096]) * 0.05:
        raise ReadError(name, "binary file (mostly control characters)")
    return text


def _decode_legacy(data: bytes, name: str) -> str:
    candidates: dict[str, str] = {}
    for encoding in _LEGACY:
        try:
            candidates[encoding] = data.decode(encoding)
        except UnicodeDecodeError:
            continue
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(candidates) or None).best()
    if best is None or best.encoding is None:
        raise ReadError(name, "cannot detect the text encoding; save the file as UTF-8")
    if candidates and best.encoding not in candidates:
        # charset-normalizer names codecs its own way (gb18030 vs big5)
        norm = {codecs.lookup(e).name: e for e in candidates}
        enc = norm.get(codecs.lookup(best.encoding).name)
        if enc:
            return candidates[enc]
    return str(best)
