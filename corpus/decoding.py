"""Turn the bytes of a file into text, whatever encoding Chinese text comes in.

Valid UTF-8 (with or without BOM) takes a fast path; UTF-16/32 are recognised
by their BOM; anything else is offered to the Chinese legacy encodings
(GB18030, a superset of GBK and GB2312, and Big5).  When both decode cleanly,
the one whose text is made of more common characters wins (GBK bytes read
as Big5 come out as rare characters, kana and bopomofo, and the other way
round); when that does not tell them apart, charset-normalizer picks the one
whose text reads most coherently.  Binary files are refused so an image never
ends up in the index as mojibake.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

from zhsearch.corpus.errors import ReadError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LEGACY = ("gb18030", "big5")
# A few stray control characters in a short text file don't make it binary;
# readers drop them.
_MIN_CONTROLS = 16
# Control characters other than tab/newline/CR/form feed; a file made mostly of
# them is binary even when some codec happens to accept its bytes.
_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r", "\f", "\x1b"}
_CONTROL_RE = re.compile("[" + re.escape("".join(sorted(_CONTROL))) + "]")


def decode_bytes(data: bytes, name: str = "<bytes>") -> str:
    """Decode ``data`` to text or raise :class:`ReadError` naming ``name``."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ReadError(name, f"invalid {encoding} after its byte-order mark ({exc.reason})") from None
    if b"\x00" in data:
        if _looks_like_utf16(data):
            raise ReadError(name, "UTF-16 text without a byte-order mark; save it as UTF-8 (or UTF-16 with a BOM)")
        raise ReadError(name, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data, name)
    controls = len(_CONTROL_RE.findall(text, 0, 4096))
    if controls >= _MIN_CONTROLS and controls > len(text[:4096]) * 0.05:
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
    if len(candidates) == 2:
        scores = {enc: _commonness(text) for enc, text in candidates.items()}
        best_enc = max(scores, key=scores.__getitem__)
        if scores[best_enc] - min(scores.values()) >= _CLEAR_WIN:
            return candidates[best_enc]
        if sum(ord(ch) > 0x7F for ch in candidates["gb18030"][:_SHORT]) < _SHORT:
            # Too short for charset-normalizer, which then leans to Big5
            # (你好 in GBK reads as 斕疑); GBK is the commoner legacy encoding.
            return candidates["gb18030"]
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


# How much more common one decoding's characters must be to win outright.
_CLEAR_WIN = 0.1
_SAMPLE_CHARS = 4000
_SHORT = 64


def _commonness(text: str) -> float:
    """Share of the first non-ASCII characters of ``text`` that are everyday
    Chinese: level-1 hanzi of GB2312 or Big5, CJK punctuation, full-width
    forms.  Mojibake from the wrong legacy codec scores far lower."""
    chars = [ch for ch in text[: _SAMPLE_CHARS * 4] if ord(ch) > 0x7F][:_SAMPLE_CHARS]
    if not chars:
        return 1.0
    return sum(_is_common(ch) for ch in chars) / len(chars)


@lru_cache(maxsize=16384)
def _is_common(ch: str) -> bool:
    code = ord(ch)
    if 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E or ch in "“”‘’…—·":
        return True
    try:
        gb = int.from_bytes(ch.encode("gb2312"), "big")
        if 0xB0A1 <= gb <= 0xD7F9:
            return True
    except UnicodeEncodeError:
        pass
    try:
        b5 = int.from_bytes(ch.encode("big5"), "big")
        return 0xA440 <= b5 <= 0xC67E
    except UnicodeEncodeError:
        return False


def _looks_like_utf16(data: bytes) -> bool:
    """The start of ``data`` decodes as UTF-16 (either byte order) into text
    with spaces or newlines but no NULs or control characters, as UTF-16
    text does and binary data with NULs in it practically never does."""
    if len(data) % 2:
        return False
    head = data[:8192]
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            try:  # the sample may end inside a surrogate pair
                text = head[:-2].decode(encoding)
            except UnicodeDecodeError:
                continue
        if (
            len(text) >= 4
            and "\x00" not in text
            and not any(ch in _CONTROL for ch in text)
            and any(ch in " \n" for ch in text)
        ):
            return True
    return False
