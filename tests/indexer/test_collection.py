"""A shard's part of the collection statistics (``indexer.collection``):
the document frequencies it writes are the live ones the index scores with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from zhsearch.indexer.binfile import FormatError
from zhsearch.indexer.collection import FIELDS, PART, ShardPart, term_key, write_part
from zhsearch.indexer.storage import open_index
from zhsearch.search.ranking import Ranker


def _words(ranker: Ranker, field: str) -> list[str]:
    if field != "grams":
        return ranker.lexicon(field)
    body = "".join(ranker.lexicon("body"))
    return sorted({body[i : i + 2] for i in range(0, len(body) - 1, 3)} | {"锟斤", "zz"})


def test_part_holds_every_terms_live_document_frequency(sample_index: Path, tmp_path: Path) -> None:
    import shutil

    index = tmp_path / "ix"
    shutil.copytree(sample_index, index)
    part = ShardPart(write_part(index))
    with open_index(index).reader() as reader:
        ranker = Ranker(reader, FIELDS)
        assert part.sections == ranker.n_alive and part.length_sums == ranker.length_sums
        for f in FIELDS:
            words = _words(ranker, f)
            keys = np.array([term_key(f, w) for w in words], dtype=np.uint64)
            assert part.frequencies(f, keys).tolist() == [ranker.doc_frequency(f, w) for w in words], f
            if f != "grams":
                assert part.lexicon(f) == ranker.lexicon(f)
        # Deleted sections stay in a segment's postings: only live ones count.
        fresh = Ranker(reader, FIELDS)
        fresh.alive[::3] = False
        for f in FIELDS:
            keys, dfs = fresh.doc_frequencies(f)
            words = _words(fresh, f)
            got = dict(zip(keys.tolist(), dfs.tolist(), strict=True))
            want = {term_key(f, w): fresh.doc_frequency(f, w) for w in words}
            assert {k: got.get(k, 0) for k in want} == want, f
            assert all(d > 0 for d in dfs.tolist())
        ranker.close()
        fresh.close()


def test_damaged_part_is_refused(sample_index: Path, tmp_path: Path) -> None:
    import shutil

    index = tmp_path / "ix"
    shutil.copytree(sample_index, index)
    path = write_part(index)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="checksum"):
        ShardPart(index / PART)
