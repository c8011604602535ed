"""``distinct`` gives what ``np.unique`` gives (it exists only because NumPy's plain call became slow)."""

from __future__ import annotations

import numpy as np
import pytest

from kg.analysis.arrays import distinct


@pytest.mark.parametrize("size", [0, 1, 2, 7, 1000])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64])
def test_distinct_is_numpy_unique(size: int, dtype: type[np.generic]) -> None:
    values = np.random.default_rng(size).integers(-5, 50, size).astype(dtype)
    found = distinct(values)
    assert found.dtype == values.dtype
    assert np.array_equal(found, np.unique(values))
