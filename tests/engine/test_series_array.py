"""SeriesArray's plumbing: pickling keeps the class, values and metadata; truth and
float() ask about the value at the current bar (the last one)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from algobt.engine.strategy import Indicator, SeriesArray

INDEX = pd.date_range("2024-01-01", periods=6, freq="D")


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip_keeps_class_values_and_metadata(protocol):
    whole = Indicator(np.arange(6.0), name="SMA(3)", index=INDEX, overlay=True)
    for array in (whole, whole[:4], whole[::2]):  # a view, and one that is not contiguous
        back = pickle.loads(pickle.dumps(array, protocol=protocol))
        assert type(back) is Indicator
        np.testing.assert_array_equal(back, array)
        assert back.name == "SMA(3)" and back._opts == {"overlay": True}
        assert back._index.equals(INDEX)
        assert back.base is None or not isinstance(back.base, SeriesArray)  # stands alone


def test_pickle_round_trip_of_a_two_dimensional_array_and_a_bare_one():
    bands = SeriesArray(np.vstack([np.arange(6.0), np.ones(6)]), name="BB", index=INDEX)
    back = pickle.loads(pickle.dumps(bands[:, :3]))
    assert back.shape == (2, 3) and back.name == "BB"
    assert back.df.index.equals(INDEX[:3])
    bare = pickle.loads(pickle.dumps(SeriesArray(np.arange(3.0))))
    assert bare.name == "" and bare._index is None and bare._opts == {}


def test_truth_and_float_read_the_last_value():
    rising = SeriesArray(np.array([0.0, 1.0, 2.5]))
    assert bool(rising) and float(rising) == 2.5
    assert not SeriesArray(np.array([3.0, 0.0]))
    assert not rising[:1] and float(rising[:1]) == 0.0  # a slice ends at its own bar
    scalar = SeriesArray(np.array(4.0))  # 0-d: numpy's own answer
    assert bool(scalar) and float(scalar) == 4.0


def test_an_empty_array_has_no_current_bar():
    empty = SeriesArray(np.array([]))
    with pytest.raises(ValueError):
        bool(empty)
    with pytest.raises(TypeError):
        float(empty)
