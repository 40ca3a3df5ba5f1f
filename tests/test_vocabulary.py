"""One vocabulary: every status has one word and one colour, P(hit) one format, and a table's
order is the one its caption states — checked on small hand-built tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from salesplan import cards, publish, review, status, tables  # noqa: E402
from salesplan.plots.base import RAG  # noqa: E402
from salesplan.retro.flags import classify_deviation  # noqa: E402

THRESHOLDS = {"yellow": 0.05, "red": 0.10, "dark_red": 0.15, "ahead": 0.05}


# ------------------------------------------------------------------ words


def test_counts_text_keeps_red_and_dark_red_apart() -> None:
    counts = {"dark_red": 32, "red": 6, "yellow": 3, "green": 9, "ahead": 22, "no_target": 0}
    text = status.counts_text(counts)
    assert text == "32 dark red / 6 red / 3 yellow / 9 green / 22 ahead"
    assert "38" not in text  # red is never red + dark red
    assert status.counts_text({**counts, "no_target": 2}).endswith("/ 2 no target")


def test_every_status_has_one_word_and_labels_round_trip() -> None:
    words = [status.status_word(s) for s in status.STATUS_ORDER]
    assert len(set(words)) == len(words)
    for s in ("dark_red", "red", "yellow", "green", "ahead"):
        label = tables.rag_label(s)
        assert label.endswith(status.status_word(s))
        assert tables.status_key(label) == s  # a label reads back as its own status, not a neighbour's
    assert tables.status_key("◆ dark_red") == "dark_red"
    assert tables.status_key("reddish") == ""


def test_rag_style_colours_a_dark_red_label_dark_red_not_red() -> None:
    frame = pd.DataFrame({"status": [tables.rag_label("dark_red"), tables.rag_label("red")]})
    html = tables.rag_style(tables.style_table(frame), "status").to_html()
    assert html.count(RAG["dark_red"]) == 1 and html.count(RAG["red"]) == 1


def test_headline_badges_say_dark_red_and_ahead() -> None:
    payload = publish.headline_payload(
        "T", [{"label": "a", "value": "1", "status": "dark_red"}, {"label": "b", "value": "2", "status": "ahead"}]
    )
    html = cards.payload_html(payload)
    assert "dark red" in html and "dark_red" not in html
    assert RAG["ahead"] in html  # ahead has its own colour, not green's


def test_flag_count_figures_from_a_summary() -> None:
    summary = {
        "month": {"dark_red": 32, "red": 6, "yellow": 3, "green": 9, "ahead": 22, "no_target": 0},
        "ytd": {"dark_red": 19, "red": 6, "yellow": 11, "green": 20, "ahead": 17, "no_target": 0},
    }
    figures = publish.flag_count_figures(summary)
    assert [f["label"] for f in figures] == ["Flags, month", "Flags, year to date"]
    assert figures[0]["value"].startswith("32 dark red / 6 red /")
    assert figures[1]["value"].startswith("19 dark red / 6 red /")
    assert publish.normalise_figures(figures)  # valid headline figures


# ------------------------------------------------------------------ P(hit)


def test_probabilities_read_the_same_in_every_table() -> None:
    risks = pd.DataFrame({"item": ["a", "b", "c"], "p_hit": [0.001, 0.5, 0.9995], "p_miss": [0.999, 0.5, 0.0005]})
    # The risk table names its probabilities as percentages; they still print as P(hit) does everywhere.
    html = tables.style_table(risks, pct=["p_hit", "p_miss"]).to_html()
    assert "0.0%" not in html and "0.1%" not in html
    assert html.count("&lt; 1 %") == 2 and html.count("&gt; 99 %") == 2
    assert status.fmt_probability(0.001) == "< 1 %"
    renamed = risks.rename(columns={"p_hit": "P(hit)"})
    html = tables.style_table(renamed, prob=["P(hit)"]).to_html()
    assert "&lt; 1 %" in html and "50 %" in html
    # A page that formatted the value first keeps its text.
    pre = pd.DataFrame({"p_hit": [status.fmt_probability(0.001)]})
    assert "&lt; 1 %" in tables.style_table(pre).to_html()


# ------------------------------------------------------------------ attainment bands


@pytest.mark.parametrize(
    ("attainment", "expected"),
    [(0.988, "green"), (0.95, "green"), (1.05, "green"), (1.051, "ahead"), (0.93, "yellow"), (0.88, "red"),
     (0.80, "dark_red"), (np.nan, "no_target")],
)  # fmt: skip
def test_attainment_status_is_the_deviation_rule(attainment: float, expected: str) -> None:
    assert status.attainment_status(attainment, THRESHOLDS)[0] == expected
    if not np.isnan(attainment):
        assert status.deviation_status(attainment * 100, 100, THRESHOLDS)[0] == expected


def test_review_table_colours_98_8_percent_as_the_retrospective_flags_it() -> None:
    # The rule the retrospective's flags classify an item by: 98.8 of a plan of 100.
    flag_status = classify_deviation(98.8, 100.0, THRESHOLDS)[0]
    assert flag_status == "green"
    table = pd.DataFrame({"attainment": [0.988]}, index=pd.Index(["North"], name="region"))
    html = review.style_review_table(table, pct=["attainment"], attainment=["attainment"], thresholds=THRESHOLDS)
    assert RAG[flag_status] in html.to_html()
    # The method's defaults, when a caller passes none, are the same bands.
    assert RAG["green"] in review.style_review_table(table, pct=["attainment"], attainment=["attainment"]).to_html()
    below = table.assign(attainment=[0.93])
    assert RAG["yellow"] in review.style_review_table(below, attainment=["attainment"], thresholds=THRESHOLDS).to_html()


# ------------------------------------------------------------------ sort order


def test_risk_order_puts_the_most_at_risk_first_within_each_group() -> None:
    land = pd.DataFrame(
        {
            "dimension": ["total", "region", "region", "region", "product_line", "product_line"],
            "item": ["total", "East", "North", "West", "Pumps", "Valves"],
            "status": ["red", "green", "red", "dark_red", "yellow", "red"],
            "p_hit": [0.01, 0.9, 0.2, 0.3, 0.5, 0.1],
            "gap": [-10.0, 1.0, -3.0, -2.0, -1.0, -4.0],
        }
    )
    out = status.risk_order(land, within="dimension")
    assert out["item"].tolist() == ["total", "West", "North", "East", "Valves", "Pumps"]
    tie = pd.DataFrame({"status": ["red", "red", "red"], "p_hit": [0.2, 0.1, 0.1], "gap": [-1.0, -1.0, -5.0]})
    assert status.risk_order(tie).index.tolist() == [2, 1, 0]  # lowest P(hit), then largest shortfall
    assert status.risk_order(land)["item"].iloc[0] == "West"  # without groups: dark red first


# ------------------------------------------------------------------ the status style, one home


def test_no_module_outside_status_writes_a_status_colour() -> None:
    """The status colours are written once, in salesplan.status: no other module of the library
    holds a dict literal keyed by status words with colour values, nor a status colour's hex
    (the charts' categorical ``PALETTE`` may share a hue: it colours series, not statuses)."""
    import ast

    from salesplan.config import PROJECT_ROOT

    keys = {"green", "yellow", "red", "dark_red", "ahead"}
    hexes = {c.lower() for k, c in status.STATUS_COLOURS.items() if k in keys}
    offenders = []
    for path in sorted((PROJECT_ROOT / "lib" / "salesplan").rglob("*.py")):
        if path.name == "status.py" and path.parent.name == "salesplan":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        palette = {
            id(c)
            for a in ast.walk(tree)
            if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PALETTE" for t in a.targets)
            for c in ast.walk(a.value)
        }
        for node in ast.walk(tree):
            if id(node) in palette:
                continue
            if isinstance(node, ast.Dict):
                names = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                colours = [v for v in node.values if isinstance(v, ast.Constant) and str(v.value).startswith("#")]
                if len(names & keys) >= 3 and colours:
                    offenders.append(f"{path.name}:{node.lineno} status palette")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() in hexes:
                offenders.append(f"{path.name}:{node.lineno} {node.value}")
    assert not offenders, offenders


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values in 0..1 (rows)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = lin @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


# Machado, Oliveira & Fernandes (2009), full severity, applied to linear RGB.
MACHADO = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


@pytest.mark.parametrize("vision", ["normal", "protanopia", "deuteranopia", "tritanopia", "greyscale"])
def test_the_five_statuses_stay_apart_for_colour_blind_readers(vision: str) -> None:
    """Every pair of status colours stays visibly apart (CIELAB distance > 10) under each
    simulated colour-vision deficiency and in greyscale; symbols carry the status as well."""
    names = ["ahead", "green", "yellow", "red", "dark_red"]
    rgb = np.array([[int(status.STATUS_COLOURS[n][i : i + 2], 16) / 255 for i in (1, 3, 5)] for n in names])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if vision in MACHADO:
        lin = np.clip(lin @ np.array(MACHADO[vision]).T, 0, 1)
    if vision == "greyscale":
        lin = np.repeat((lin @ np.array([0.2126, 0.7152, 0.0722]))[:, None], 3, axis=1)
    back = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    lab = _srgb_to_lab(back)
    closest = min(
        (float(np.linalg.norm(lab[i] - lab[j])), names[i], names[j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
    )
    assert closest[0] > 10, closest
    assert len(set(status.STATUS_SYMBOLS[n] for n in names)) == len(names)


def test_red_reads_red_and_dark_red_a_darker_red() -> None:
    import colorsys

    def hls(name: str) -> tuple[float, float, float]:
        c = status.STATUS_COLOURS[name]
        return colorsys.rgb_to_hls(*(int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)))

    for name in ("red", "dark_red"):
        hue = hls(name)[0] * 360
        assert hue < 15 or hue > 345, f"{name} has hue {hue:.0f}°, not red"
    assert hls("dark_red")[1] < hls("red")[1] - 0.2


def test_status_text_is_readable_on_its_colour() -> None:
    def luminance(hex_colour: str) -> float:
        rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(lin @ np.array([0.2126, 0.7152, 0.0722]))

    for name in ("ahead", "green", "yellow", "red", "dark_red"):
        text = 1.0 if status.STATUS_TEXT[name] == "white" else 0.0
        lo, hi = sorted([luminance(status.STATUS_COLOURS[name]), text])
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, name
