"""`orchestration replay`'s output: the progress line and the final summary."""

import pytest
from typer.testing import CliRunner

from compose.cli import app
from compose.replay import progress_line, summary
from engine import ReplayProgress, ReplayWindow

pytestmark = pytest.mark.unit


def progress(**counts: int) -> ReplayProgress:
    replay = ReplayProgress(
        id="r", trigger_id="t1", window=ReplayWindow.parse("2025-03-04T10:00:00Z")
    )
    for name, value in counts.items():
        setattr(replay, name, value)
    return replay


def test_the_progress_line_counts_records_against_the_plan() -> None:
    line = progress_line(progress(read=300, to_read=1000, in_window=250, occurrences=7))
    assert line == "replay: 300/1000 records read, 250 in the window, 7 occurrences"


def test_the_summary_warns_when_retention_truncated_the_window() -> None:
    [only] = summary(progress(read=5, in_window=5, matched=2, occurrences=2, known=1, starts=1))
    assert "2 occurrences (1 already recorded, 1 start commands sent)" in only
    truncated = progress()
    truncated.truncated = ("ledger/0",)
    lines = summary(truncated)
    assert len(lines) == 2
    assert lines[1].startswith("warning: retention removed the oldest records of ledger/0")


def test_a_bad_window_exits_2_before_reaching_kafka() -> None:
    result = CliRunner().invoke(app, ["replay", "--trigger", "t1", "--from", "2025-03-04T10:00:00"])
    assert result.exit_code == 2
    assert "time zone" in result.output
