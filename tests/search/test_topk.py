"""Top-k selection of articles equals the full sort it replaces."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from zhsearch.search.ranking import Ranker


def _full_sort(
    cand: np.ndarray, cs: np.ndarray, arts: np.ndarray, start: int, stop: int, id_order: np.ndarray
) -> list[tuple[int, float]]:
    """The exhaustive ranking: every matching section sorted, each article's
    best taken, articles by score then article id."""
    order = np.argsort(-cs, kind="stable")
    c, s, a = cand[order], cs[order], arts[order]
    _, first = np.unique(a, return_index=True)
    rank = np.lexsort((id_order[a[first]], -s[first]))[start:stop]
    return [(int(c[first][i]), float(s[first][i])) for i in rank]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.25]) | st.floats(0.25, 9.0, width=32)),
        min_size=1,
        max_size=400,
    ),
    st.integers(0, 12),
    st.integers(1, 40),
    st.permutations(range(31)),
)
def test_top_by_score_is_the_full_sort(sections, start: int, limit: int, ids: list[int]) -> None:
    # Section i belongs to article sections[i][0] and scores sections[i][1]:
    # ties (the sampled values) and many sections per article included.
    cand = np.arange(len(sections), dtype=np.int64) * 3
    arts = np.array([a for a, _ in sections], dtype=np.int32)
    cs = np.array([s for _, s in sections], dtype=np.float32)
    # ``ids``: each article's place in id order, the tie-break.
    id_order = np.array(ids, dtype=np.int64)
    got = Ranker._top_by_score(cand, cs, arts, start, start + limit, id_order)
    assert got == _full_sort(cand, cs, arts, start, start + limit, id_order)
