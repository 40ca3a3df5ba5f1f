import pytest

from salesplan.config import default_settings
from salesplan.targets import TargetInputError, phasing_from_config


def test_the_typed_section_and_its_mapping_phase_alike():
    phasing = default_settings().targets.phasing.model_copy(update={"method": "quarterly_template"})
    typed = phasing_from_config(phasing, None)["share"].to_numpy()
    plain = phasing_from_config(phasing.model_dump(), None)["share"].to_numpy()
    assert typed.tolist() == plain.tolist()
    quarters = [typed[q * 3 : q * 3 + 3].sum() for q in range(4)]
    weights = phasing.quarterly_templates[phasing.template]
    assert quarters == pytest.approx([w / sum(weights) for w in weights])


def test_a_monthly_profile_is_followed_month_by_month():
    profile = [2.0] + [1.0] * 11
    phasing = default_settings().targets.phasing.model_copy(
        update={"method": "monthly_profile", "monthly_profile": profile}
    )
    shares = phasing_from_config(phasing, None)["share"].to_numpy()
    assert shares[0] == pytest.approx(2 / 13)
    assert shares[1:] == pytest.approx([1 / 13] * 11)


def test_a_bad_mapping_is_refused_with_its_key():
    plain = default_settings().targets.phasing.model_dump()
    with pytest.raises(TargetInputError, match=r"targets\.phasing.*not one of the quarterly_templates"):
        phasing_from_config({**plain, "template": "nope"}, None)
    with pytest.raises(TargetInputError, match=r"targets\.phasing\.method"):
        phasing_from_config({**plain, "method": "random"}, None)
