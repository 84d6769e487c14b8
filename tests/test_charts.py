"""The SVG chart helper: well-formed, scaled to the data, labels escaped."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from service.console.charts import _nice_max, bar_chart, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_is_valid_svg_with_one_bar_per_value():
    svg = bar_chart([("进机关", 3), ("进企业", 0), ("进学校", 7)], title="本月报告")
    root = ET.fromstring(svg)
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 2  # a zero draws no bar
    heights = sorted(float(b.get("height")) for b in bars)
    assert heights[1] / heights[0] == pytest.approx(7 / 3, rel=0.01)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "进机关" in texts and "进学校" in texts and "7" in texts
    assert root.find(f"{SVG}title").text == "本月报告"


def test_stacked_bars_sum_per_label_and_have_a_legend():
    svg = stacked_bar_chart(["1月", "2月"], [("待审核", [1, 2]), ("已通过", [3, 0])])
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "待审核" in texts and "已通过" in texts  # legend
    assert "4" in texts and "2" in texts  # totals above the bars


def test_labels_are_escaped():
    svg = bar_chart([("<script>alert(1)</script>", 1), ('a"b&c', 2)], title="<b>x</b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&quot;" in svg and "&amp;" in svg
    ET.fromstring(svg)  # still well-formed


def test_empty_and_all_zero_data_draw_an_axis_only():
    for svg in (bar_chart([]), bar_chart([("进机关", 0)])):
        root = ET.fromstring(svg)
        assert root.findall(f"{SVG}rect") == []


def test_mismatched_series_is_refused():
    with pytest.raises(ValueError):
        stacked_bar_chart(["a", "b"], [("x", [1])])


@pytest.mark.parametrize("value, top", [(0, 4), (1, 4), (3, 4), (7, 8), (10, 20), (12, 20), (90, 100), (480, 800),
                                        (0.3, 0.4)])
def test_axis_top_is_a_round_number(value, top):
    assert _nice_max(value) == pytest.approx(top)
