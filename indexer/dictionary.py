"""The segmentation dictionary, kept in the index for quick queries.

jieba-rs (``rjieba``) spends 0.15–0.4 s building its 349,000-word dictionary
when it starts — most of a one-query process's time.  Segmenting a short
text only ever uses the dictionary words inside that text, plus the sum of
all frequencies (every word's cost is ``log(freq / total)``).  So an index
stores jieba's dictionary as sorted 64-bit word keys and frequencies
(``DICTIONARY_FILE``, memory-mapped), and a query builds an empty jieba-rs
segmenter holding just the words its text contains and one placeholder
word that brings the total up to the full dictionary's: the same cuts, in
well under a millisecond.

The file is written only after a check that this gives exactly what the
full segmenter gives on a set of test sentences; without the file (or with
a user dictionary, whose words jieba weighs against the whole dictionary)
queries load the full dictionary as before.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path

import numpy as np
from zhsearch.indexer.binfile import FormatError, crc, head, open_mapped, write_file

DICTIONARY_FILE = "dictionary.bin"
MAGIC = b"ZHDICT2\n"
# A word no text contains (private-use characters): it carries the rest of
# the total frequency.
_PLACEHOLDER = "\ue000\ue001\ue002\ue003"

# Sentences the quick segmenter must cut exactly like the full one before
# an index trusts it: names, numbers, Latin, rare words, unknown runs (HMM).
PROBES = (
    "网贷逾期多久会上门走访",
    "劳动合同解除的经济补偿怎么计算",
    "信用卡逾期三个月以后银行会起诉吗",
    "张三丰在武当山修炼太极拳二十年",
    "我们去北京大学玩了3.5天，花了1200元",
    "iPhone 15 Pro的售价是7999元",
    "停息挂账和个性化分期有什么区别",
    "欧阳娜娜和王俊凯参加了综艺节目",
    "第一百二十三条当事人可以约定违约金",
    "他说的确实在理结婚的和尚未结婚的",
    "工信处女干事每月经过下属科室都要亲口交代",
    "南京市长江大桥",
    "乒乓球拍卖完了",
    "微信支付宝京东白条花呗借呗",
)


def _key(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


@cache
def rjieba_class():  # -> type[rjieba.Jieba]
    """jieba-rs's segmenter class, loaded without ``import rjieba``: that
    package builds its default segmenter (the whole dictionary) on import."""
    module = sys.modules.get("rjieba")
    if module is not None:
        return module.Jieba
    spec = importlib.util.find_spec("rjieba")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "rjieba" + suffix)
            if os.path.exists(path):
                ext = importlib.util.spec_from_file_location("rjieba.rjieba", path)
                if ext is None or ext.loader is None:
                    continue
                loaded = importlib.util.module_from_spec(ext)
                ext.loader.exec_module(loaded)
                # A later ``import rjieba`` finds and reuses it.
                sys.modules["rjieba.rjieba"] = loaded
                return loaded.Jieba
    raise ImportError("rjieba is not installed")


def _jieba_dict_path() -> Path:
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("jieba is not installed")
    return Path(spec.origin).parent / "dict.txt"


class QueryDictionary:
    """A memory-mapped dictionary file; :meth:`segmenter` gives a jieba-rs
    segmenter for one text."""

    def __init__(self, source: str | os.PathLike[str] | bytes) -> None:
        self._map, header, data = open_mapped(source, MAGIC, "dictionary")
        try:
            count = header["count"]
            self.total: int = header["total"]
            self.max_len: int = header["max_len"]
            self._crc: int = header["crc"]
            self.keys = np.frombuffer(self._map, dtype="<u8", count=count, offset=data)
            self.freqs = np.frombuffer(self._map, dtype="<u8", count=count, offset=data + 8 * count)
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"the dictionary file is damaged ({exc})") from None
        self._data = data

    def verify(self) -> bool:
        """Whether the words match the checksum written with them."""
        return crc(self._map[self._data : self._data + 16 * len(self.keys)]) == self._crc

    def words_in(self, text: str) -> dict[str, int]:
        """The dictionary words inside ``text``, with their frequencies."""
        subs = list(
            dict.fromkeys(
                text[i:j] for i in range(len(text)) for j in range(i + 1, min(len(text), i + self.max_len) + 1)
            )
        )
        if not subs:
            return {}
        keys = np.fromiter((_key(s) for s in subs), dtype=np.uint64, count=len(subs))
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = self.keys[at] == keys
        return {s: int(f) for s, f, h in zip(subs, self.freqs[at].tolist(), hit.tolist(), strict=True) if h}

    def segmenter(self, text: str):  # -> rjieba.Jieba
        """A jieba-rs segmenter that cuts ``text`` as the full dictionary would."""
        seg = rjieba_class().empty()
        found = self.words_in(text)
        for word, freq in found.items():
            seg.add_word(word, freq, None)
        rest = self.total - sum(found.values())
        if rest > 0:
            seg.add_word(_PLACEHOLDER, rest, None)
        return seg


@cache
def _checked_dictionary() -> bytes | None:
    """The dictionary file's bytes, made once per process: the words of
    jieba's ``dict.txt`` and a check of the quick segmenter against the full
    one (``None`` if they disagree or anything is missing)."""
    try:
        full = rjieba_class()()
        entries: dict[str, int] = {}
        with open(_jieba_dict_path(), encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    entries[parts[0]] = int(parts[1])
    except (ImportError, OSError):
        return None
    if not entries:
        return None
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    # _key inlined: this runs once per index created, over 349,000 words.
    keys = np.fromiter(
        (from_bytes(blake2b(w.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little") for w in entries),
        dtype=np.uint64,
        count=len(entries),
    )
    freqs = np.fromiter(entries.values(), dtype=np.uint64, count=len(entries))
    order = np.argsort(keys)
    keys, freqs = keys[order], freqs[order]
    # Sorted: a collision is two equal neighbours (np.unique's hashing
    # took longer than everything else here).
    if len(keys) > 1 and bool((keys[1:] == keys[:-1]).any()):
        return None  # a key collision: never guess
    body = keys.astype("<u8").tobytes() + freqs.astype("<u8").tobytes()
    header = {
        "crc": crc(body),
        "count": len(keys),
        "total": int(freqs.sum()),
        "max_len": max(map(len, entries)),
        "source": "jieba dict.txt",
    }
    data = head(MAGIC, header) + body
    quick = QueryDictionary(data)
    for hmm in (True, False):
        for text in PROBES:
            if quick.segmenter(text).cut(text, hmm) != full.cut(text, hmm):
                return None
    return data


def write_dictionary(index_dir: Path, mode: int | None = None) -> bool:
    """Store jieba's dictionary in ``index_dir`` if the quick segmenter it
    allows cuts the probe sentences exactly like the full one; returns
    whether it was stored."""
    data = _checked_dictionary()
    if data is None:
        return False
    write_file(index_dir / DICTIONARY_FILE, [data], mode)
    return True
