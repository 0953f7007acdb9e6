"""`firewatch model compare`'s maths on controlled frames (exact expected numbers), its query, and the
command's output with the query replaced (the stack test of the real query is
tests/streaming/test_model_registry_e2e.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from firewatch.core.confirm import ConfirmConfig
from model.config import CompareConfig
from model.evaluation.compare import compare_query, run_compare
from model.evaluation.shadow_compare import compare, format_comparison

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
# k=2 of n=3, frames counted at once (no reorder wait), an alert closes after 10 s clear.
CONFIRM = ConfirmConfig(k=2, n=3, reorder_seconds=0, clear_seconds=10, cooldown_seconds=0)


def row(camera: str, t: int, current_fire: bool, shadow_fire: bool, current="v1", shadow="s1") -> dict:
    def side(fire: bool) -> tuple[float, str]:
        return (0.9, "fire") if fire else (0.1, "no_fire")

    (cp, cl), (sp, sl) = side(current_fire), side(shadow_fire)
    return {
        "frame_key": f"{camera}/f{t:03d}",
        "camera_id": camera,
        "captured_at": T0 + timedelta(seconds=t),
        "current_version": current,
        "shadow_version": shadow,
        "current_probability": cp,
        "current_threshold": 0.5,
        "current_label": cl,
        "shadow_probability": sp,
        "shadow_threshold": 0.5,
        "shadow_label": sl,
    }


def rows() -> list[dict]:
    # cam-a: the current version fires from t=2, the shadow from t=4 (both to t=9): one episode, the
    # shadow's alert opens 2 s later (t=5 against t=3). cam-b: only the shadow fires, t=0..4.
    a = [row("cam-a", t, t >= 2, t >= 4) for t in range(10)]
    b = [row("cam-b", t, False, t <= 4) for t in range(10)]
    return a + b


def test_agreement_fire_rates_alerts_and_time_to_alert_are_exact() -> None:
    (result,) = compare(rows() + rows()[:3], CONFIRM)  # a frame written twice counts once
    assert (result["shadow_version"], result["current_version"]) == ("s1", "v1")
    assert (result["frames"], result["cameras"]) == (20, 2)
    assert result["camera_days"] == pytest.approx(18 / 86400)
    assert result["agreement"] == pytest.approx(13 / 20)  # cam-a differs at t=2,3; cam-b at t=0..4
    assert (result["current_fire_rate"], result["shadow_fire_rate"]) == (pytest.approx(0.4), pytest.approx(0.55))
    assert (result["current_alerts"], result["shadow_alerts"]) == (1, 2)
    assert result["current_alerts_per_camera_day"] == pytest.approx(86400 / 18)
    assert result["shadow_alerts_per_camera_day"] == pytest.approx(2 * 86400 / 18)
    assert result["episodes_both"] == 1
    assert result["time_to_alert_delta_seconds"] == {"mean": 2.0, "median": 2.0, "max": 2.0}


def test_each_version_pair_is_compared_apart() -> None:
    later = [row("cam-a", t, True, True, current="v2") for t in range(20, 26)]
    results = compare(rows() + later, CONFIRM)
    assert [(r["shadow_version"], r["current_version"], r["frames"]) for r in results] == [
        ("s1", "v1", 20),
        ("s1", "v2", 6),
    ]
    both = results[1]
    assert both["agreement"] == 1.0 and both["episodes_both"] == 1
    assert both["time_to_alert_delta_seconds"]["max"] == 0.0  # both open at the same frame


def test_the_table_names_both_versions_and_their_figures() -> None:
    text = format_comparison(compare(rows(), CONFIRM))
    assert "shadow s1 vs current v1: 20 frames on 2 camera(s)" in text and "agreement 0.6500" in text
    fire = next(line for line in text.splitlines() if line.startswith("fire rate"))
    assert fire.split()[-2:] == ["0.4000", "0.5500"]
    alerts = next(line for line in text.splitlines() if line.startswith("alerts opened"))
    assert alerts.split()[-2:] == ["1", "2"]
    assert "episodes both alerted on: 1; time to alert, shadow minus current (s): mean 2.0, median 2.0, max 2.0" in text
    assert format_comparison([]).startswith("no frames")


def test_the_query_joins_on_frame_key_in_the_window() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    spec = compare_query("p.d.shadow_predictions", "p.d.predictions", since, "s1")
    assert "JOIN `p.d.predictions` AS p ON p.frame_key = s.frame_key" in spec.sql
    assert {(p.name, p.value) for p in spec.params} == {
        ("since", since),
        ("predictions_since", since - timedelta(days=1)),
        ("version", "s1"),
    }
    assert "@version" not in compare_query("p.d.s", "p.d.p", since).sql


def test_the_shadow_version_defaults_to_the_registry_pointer(tmp_path) -> None:
    from firewatch.cloud.registry import write_pointer

    registry = str(tmp_path / "reg")
    write_pointer(registry, "shadow", "s1")
    asked = []

    def query(spec, project):
        asked.append((project, spec.sql, {p.name: p.value for p in spec.params}))
        return rows()

    now = datetime(2026, 3, 8, tzinfo=UTC)
    config = CompareConfig(registry=registry, project="p-test", since="2d", confirm=CONFIRM)
    report = run_compare(config, now=now, query=query)
    (project, sql, params) = asked[0]
    assert project == "p-test" and "`p-test.firewatch.shadow_predictions`" in sql
    assert params["version"] == "s1" and params["since"] == now - timedelta(days=2)
    assert report["version"] == "s1" and report["pairs"][0]["agreement"] == pytest.approx(0.65)
    json.dumps(report, default=str)  # --json prints it
