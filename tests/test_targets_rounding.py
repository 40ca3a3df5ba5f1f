"""Largest-remainder rounding: parts are whole numbers that add up exactly to the total."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from salesplan.targets import TargetInputError, largest_remainder


def test_hand_example():
    # total 10 over weights 1:1:1 -> quotas 3.333 each; floors 3+3+3 = 9, one spare unit,
    # remainders tie at 0.333 -> the earliest position takes it.
    assert largest_remainder([1, 1, 1], 10).tolist() == [4, 3, 3]
    # quotas 100 * (0.455, 0.345, 0.2) = 45.5, 34.5, 20 -> floors 45, 34, 20 (99); remainders .5, .5, 0
    # -> the spare unit goes to the first of the tied .5 remainders.
    assert largest_remainder([0.455, 0.345, 0.2], 100).tolist() == [46, 34, 20]


def test_largest_remainder_beats_position():
    # quotas 7 * (0.1, 0.6, 0.3) = 0.7, 4.2, 2.1 -> floors 0, 4, 2 (6); largest remainder is .7 at position 0.
    assert largest_remainder([0.1, 0.6, 0.3], 7).tolist() == [1, 4, 2]


def test_all_zero_weights_split_evenly():
    assert largest_remainder([0, 0, 0, 0], 6).tolist() == [2, 2, 1, 1]


def test_zero_total_and_empty():
    assert largest_remainder([3, 4], 0).tolist() == [0, 0]
    assert largest_remainder([], 0).tolist() == []


@pytest.mark.parametrize(
    ("values", "total", "fragment"),
    [
        ([1, -1], 5, "must be >= 0"),
        ([1, float("nan")], 5, "must be finite"),
        ([1, 2], -3, "total must be >= 0"),
        ([1, 2], 2.5, "whole number"),
        ([], 4, "zero parts"),
    ],
)
def test_bad_input_is_named(values, total, fragment):
    with pytest.raises(TargetInputError, match=fragment):
        largest_remainder(values, total)


@given(
    st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=40),
    st.integers(min_value=0, max_value=10**12),
)
def test_parts_sum_exactly_and_stay_within_one_unit(values, total):
    parts = largest_remainder(values, total)
    assert parts.dtype == np.int64
    assert int(parts.sum()) == total
    assert (parts >= 0).all()
    weights = np.asarray(values)
    quotas = weights / weights.sum() * total if weights.sum() > 0 else np.full(len(values), total / len(values))
    # Each part is its exact quota rounded down or up: never further than one unit away.
    assert np.all(np.abs(parts - quotas) < 1 + 1e-6 * max(1.0, total))


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30))
def test_whole_number_quotas_are_kept(values):
    assume(sum(values) > 0)
    # When the weights are already whole numbers summing to the total, rounding changes nothing.
    assert largest_remainder(values, sum(values)).tolist() == values
