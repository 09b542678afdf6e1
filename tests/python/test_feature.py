"""load_feature() from Python: the four real samples and the broken-feature corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

import kitty_orchestrator as ko
from conftest import broken_cases, sample_dir


def lanes(feature: ko.Feature) -> dict[str, ko.Lane]:
    return {wp.id: wp.initial_lane for wp in feature.work_packages}


def test_version_is_exposed() -> None:
    assert ko.__version__.count(".") == 2


def test_sample_01_flat_mixed_lanes() -> None:
    f = ko.load_feature(sample_dir("01_frontmatter-lanes_mixed__020_at_370f288e5"))
    assert f.slug == "020-autonomous-multi-agent-orchestrator"
    assert f.layout == "flat"
    assert len(f) == 9
    expected = {f"WP{n:02}": ko.Lane.DONE for n in range(1, 7)}
    expected.update({"WP07": ko.Lane.FOR_REVIEW, "WP08": ko.Lane.DOING, "WP09": ko.Lane.PLANNED})
    assert lanes(f) == expected
    assert isinstance(f.work_packages[0].initial_lane, ko.Lane)
    assert f.work_packages[0].initial_lane == "done"  # str-valued enum
    wp06 = f.work_package("WP06")
    assert wp06 is not None and wp06.dependencies == ["WP02", "WP03", "WP04"]
    wp08 = f.work_package("WP08")
    assert wp08 is not None and wp08.dependencies == ["WP05", "WP06", "WP07"]
    wp01 = f.work_packages[0]
    assert wp01.title == "Foundation & Config"
    assert wp01.subtasks == ["T001", "T002", "T003", "T004", "T005"]
    assert wp01.extra["agent"] == "claude-opus"
    assert wp01.extra["history"][0]["lane"] == "planned"
    assert wp01.prompt.startswith("# Work Package Prompt: WP01")
    assert wp01.source.name == "WP01-foundation-and-config.md"
    order = f.topological_order()
    assert order.index("WP06") > max(order.index(d) for d in ("WP02", "WP03", "WP04"))
    assert f.meta is not None and f.meta["friendly_name"] == "Autonomous Multi-Agent Orchestrator"
    assert "WP01" in repr(wp01)


def test_sample_03_three_roots() -> None:
    f = ko.load_feature(sample_dir("03_frontmatter-lanes_all-done__021_at_6062db7d"))
    assert len(f) == 12
    assert [wp.id for wp in f.work_packages if not wp.dependencies] == ["WP01", "WP03", "WP12"]
    assert set(lanes(f).values()) == {ko.Lane.DONE}


def test_sample_05_legacy_lane_directories() -> None:
    f = ko.load_feature(str(sample_dir("05_legacy-lane-subdirs__007_at_63a55999d")))
    assert f.layout == "lane_directories"
    assert lanes(f) == {
        **{f"WP{n:02}": ko.Lane.FOR_REVIEW for n in range(1, 6)},
        "WP06": ko.Lane.PLANNED,
    }


def test_sample_06_event_log() -> None:
    f = ko.load_feature(sample_dir("06_event-log-3x__020_at_HEAD"))
    assert f.layout == "event_log"
    assert len(f) == 9
    assert set(lanes(f).values()) == {ko.Lane.DONE}
    assert f.target_branch == "main"


@pytest.mark.parametrize("case,feature_dir,expected", broken_cases(), ids=[c[0] for c in broken_cases()])
def test_broken_feature_raises_feature_error(case: str, feature_dir: Path, expected: list[str]) -> None:
    with pytest.raises(ko.FeatureError) as info:
        ko.load_feature(feature_dir)
    err = info.value
    assert isinstance(err, ko.KittyError)
    assert err.code == "feature_invalid"
    text = str(err)
    for line in expected:
        assert line in text, f"{case}: {line!r} not in {text!r}"
    assert err.problems, case
    assert all(p.message and p.kind for p in err.problems)


def test_problems_carry_kind_path_and_line() -> None:
    (_, feature_dir, _) = next(c for c in broken_cases() if c[0] == "22-many-problems-at-once")
    with pytest.raises(ko.FeatureError) as info:
        ko.load_feature(feature_dir)
    kinds = sorted(p.kind for p in info.value.problems)
    assert kinds == ["bad_yaml", "cycle", "id_mismatch", "unknown_dependency"]
    cycle = next(p for p in info.value.problems if p.kind == "cycle")
    assert cycle.path.name == "WP01-a.md" and cycle.line == 5
    assert "WP01 -> WP02 -> WP01" in str(cycle)


def test_error_classes_have_codes() -> None:
    assert issubclass(ko.FeatureError, ko.KittyError)
    assert issubclass(ko.ConfigError, ko.KittyError)
    assert issubclass(ko.IoError, ko.KittyError)
    assert ko.FeatureError.code == "feature_invalid"
    assert ko.ConfigError.code == "config_invalid"
    assert ko.IoError.code == "io"


def test_missing_directory_is_a_feature_error(tmp_path: Path) -> None:
    with pytest.raises(ko.FeatureError, match="does not exist"):
        ko.load_feature(tmp_path / "nope")


def test_state_error_classes_have_codes() -> None:
    assert issubclass(ko.StateConflictError, ko.KittyError)
    assert issubclass(ko.GitError, ko.KittyError)
    assert ko.StateConflictError.code == "state_conflict"
    assert ko.GitError.code == "git"
