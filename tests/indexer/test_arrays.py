"""The sorted-set helpers give numpy's answers (``np.unique`` is the reference)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from zhsearch.indexer.arrays import union, unique, unique_counts, unique_first, unique_inverse

INTS = st.sampled_from([np.int32, np.int64, np.uint64]).flatmap(
    lambda dtype: arrays(dtype, st.integers(0, 300), elements=st.integers(0, 40))
)


@given(INTS)
def test_unique_is_numpys(values: np.ndarray) -> None:
    assert unique(values).tolist() == np.unique(values).tolist()


@given(INTS)
def test_unique_counts_is_numpys_with_return_counts(values: np.ndarray) -> None:
    got, counts = unique_counts(values)
    want, want_counts = np.unique(values, return_counts=True)
    assert got.tolist() == want.tolist()
    assert counts.tolist() == want_counts.tolist()


@given(INTS)
def test_unique_first_is_numpys_with_return_index(values: np.ndarray) -> None:
    got, first = unique_first(values)
    want, want_first = np.unique(values, return_index=True)
    assert got.tolist() == want.tolist()
    assert first.tolist() == want_first.tolist()


@given(INTS)
def test_unique_inverse_is_numpys_with_return_inverse(values: np.ndarray) -> None:
    got, inverse = unique_inverse(values)
    want, want_inverse = np.unique(values, return_inverse=True)
    assert got.tolist() == want.tolist()
    assert inverse.tolist() == want_inverse.ravel().tolist()


@given(st.lists(arrays(np.int64, st.integers(0, 50), elements=st.integers(0, 99)), max_size=4))
def test_union_is_numpys(parts: list[np.ndarray]) -> None:
    want = np.unique(np.concatenate(parts)) if parts else np.zeros(0)
    assert union(parts).tolist() == want.tolist()
