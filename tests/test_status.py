import numpy as np
import pytest

from salesplan.settings import Bands, Thresholds
from salesplan.status import (
    StatusInputError,
    attainment_status,
    check_thresholds,
    landing_status,
    probability_status,
    status_bands,
)

WIDE = {"yellow": 0.10, "red": 0.20, "dark_red": 0.30, "ahead": 0.02}


def test_the_typed_section_and_its_mapping_classify_alike():
    typed = Thresholds(**WIDE)
    attainment = [0.92, 0.85, 0.75, 0.65, 1.03, np.nan]
    expected = ["green", "yellow", "red", "dark_red", "ahead", "no_target"]
    assert list(attainment_status(attainment, typed)) == expected
    assert list(attainment_status(attainment, WIDE)) == expected
    assert status_bands(typed)["yellow"] == "10-20 % behind"
    assert check_thresholds(typed) == WIDE


def test_probability_bands_typed_or_as_a_mapping():
    p = [0.9, 0.5, 0.1, np.nan]
    assert list(probability_status(p, Bands(high=0.8, medium=0.4))) == ["green", "yellow", "red", "no_target"]
    assert list(probability_status(p, {"high": 0.95, "medium": 0.6})) == ["yellow", "red", "red", "no_target"]
    # On target (green by the gap) with a coin-flip chance: the worse of the two, yellow.
    assert landing_status(0.5, 100.0, 100.0, Thresholds(**WIDE), Bands(high=0.7, medium=0.3))[0] == "yellow"


@pytest.mark.parametrize("bad", [{"high": 0.3, "medium": 0.7}, {"high": 0.7}, {"high": "x", "medium": 0.3}])
def test_bad_bands_are_named(bad):
    with pytest.raises(StatusInputError, match="risk.probability"):
        probability_status([0.5], bad)


def test_ahead_beyond_one_is_refused():
    with pytest.raises(StatusInputError, match=r"retro.thresholds: ahead"):
        check_thresholds({**WIDE, "ahead": 1.5})
