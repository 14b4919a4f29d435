"""The dictionary stored in an index: quick query segmentation, same cuts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.indexer.dictionary import DICTIONARY_FILE, PROBES, QueryDictionary, rjieba_class, write_dictionary

pytest.importorskip("rjieba")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("dict")
    assert write_dictionary(folder)
    return QueryDictionary(folder / DICTIONARY_FILE), rjieba_class()()


TEXT = st.text(
    alphabet=st.sampled_from(
        list("网贷逾期多久会上门走访的了是在和我他们北京大学张三丰武当山结婚尚未乒乓球拍卖完 3.5abcＡＢ，。！") + ["𠮷"]
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.booleans())
def test_quick_segmenter_cuts_like_the_full_dictionary(pair, text: str, hmm: bool):
    quick, full = pair
    seg = quick.segmenter(text)
    assert seg.cut(text, hmm) == full.cut(text, hmm)
    assert seg.tokenize(text, "default", hmm) == full.tokenize(text, "default", hmm)
    assert sorted(seg.cut_all(text)) == sorted(full.cut_all(text))


def test_probe_sentences_and_the_words_found(pair):
    quick, full = pair
    for text in PROBES:
        assert quick.segmenter(text).cut(text, True) == full.cut(text, True)
    assert quick.words_in("网贷逾期")["逾期"] > 0
    assert "贷逾" not in quick.words_in("网贷逾期")


def test_an_index_carries_it_and_a_query_does_not_load_the_whole_dictionary(sample_index: Path):
    assert (sample_index / DICTIONARY_FILE).is_file()
    code = (
        "import sys\n"
        "from zhsearch.search.searcher import Searcher\n"
        f"hits = Searcher({str(sample_index)!r}).search('网贷逾期以后怎么协商还款').hits\n"
        "assert hits, 'no hits'\n"
        "print('rjieba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_a_file_that_is_not_a_dictionary_is_refused(tmp_path: Path):
    (tmp_path / DICTIONARY_FILE).write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="not a zhsearch dictionary"):
        QueryDictionary(tmp_path / DICTIONARY_FILE)
