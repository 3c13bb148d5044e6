"""read_metrics tolerance and build_curves placement (closed-form x positions)."""

from __future__ import annotations

import json
import math
import warnings

import pytest

from slimkit.report import build_curves, read_metrics


def test_truncated_last_line_is_skipped_silently(tmp_path, jsonl, lines):
    recs = [lines.step(0, 1, 5, 1.0), lines.epoch(0, 1, 10)]
    path = jsonl(tmp_path / "metrics.jsonl", recs, tail='{"event": "step", "stage": 0, "lo')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_metrics(path) == recs


def test_truncated_last_line_with_nested_object_is_not_a_record(tmp_path, jsonl, lines):
    tail = '{"event": "epoch", "extra": {"a": 1}'  # inner object parses, but is not a record
    path = jsonl(tmp_path / "m.jsonl", [lines.epoch(0, 1, 10)], tail=tail)
    assert read_metrics(path) == [lines.epoch(0, 1, 10)]


def test_record_appended_to_truncated_line_is_recovered(tmp_path, lines):
    first, resumed = lines.step(0, 1, 5, 1.0), lines.step(0, 1, 5, 0.9)
    text = json.dumps(first) + "\n" + '{"event": "st' + json.dumps(resumed) + "\n\n"
    path = tmp_path / "metrics.jsonl"
    path.write_text(text)
    assert read_metrics(path) == [first, resumed]


def test_garbage_in_the_middle_warns_and_is_skipped(tmp_path, lines):
    path = tmp_path / "metrics.jsonl"
    good = lines.epoch(0, 1, 10)
    path.write_text("not json\n[1, 2]\n" + json.dumps(good) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_metrics(path) == [good]
    messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert len(messages) == 2
    assert "line 1" in messages[0] and "line 2" in messages[1]


def test_missing_file_reads_as_no_metrics(tmp_path):
    assert read_metrics(tmp_path / "nope.jsonl") == []


def test_two_stages_concatenate_and_later_duplicate_wins(metrics_two_stages):
    c = build_curves(metrics_two_stages)
    assert [(s.index, s.kind, s.start, s.length) for s in c.stages] == [
        (0, "train", 0.0, 3.0),
        (1, "train", 3.0, 2.0),
    ]
    assert c.epoch_x == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert c.epoch_stage == [0, 0, 0, 1, 1] and c.step_stage == [0] * 6 + [1] * 4
    # stage 0 epoch 2 was logged twice; the later copy (0.75) wins, not 0.70
    assert c.epoch["test_top1"] == pytest.approx([0.65, 0.75, 0.75, 0.75, 0.80])
    assert c.epoch["train_loss"] == pytest.approx([1.0, 0.5, 1 / 3, 1.0, 0.5])
    # 10 steps per epoch, logged at steps 5 and 10 of each epoch: half and full epoch
    assert c.step_x == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])
    assert c.step_loss[0] == pytest.approx(2.0 / 5)
    assert c.step_loss[6] == pytest.approx(2.0 / 6)  # stage 1, step 5
    assert c.has("train_top1") and not c.has("sparsity")


def test_steps_counted_across_stages(lines):
    # stage 1 continues the global step count (31..50) instead of restarting
    recs = [lines.step(0, 1, 10, 1.0), lines.epoch(0, 1, 20), lines.step(0, 2, 40, 1.0)]
    recs += [lines.epoch(0, 2, 40), lines.step(1, 1, 50, 1.0), lines.epoch(1, 1, 60)]
    c = build_curves(recs)
    assert c.step_x == pytest.approx([0.5, 2.0, 2.5])


def test_steps_counted_within_epoch(lines):
    # step numbers restart every epoch (1..8), epoch lines carry the per-epoch count 8
    recs = [lines.step(0, 1, 2, 1.0), lines.epoch(0, 1, 8)]
    recs += [lines.step(0, 2, 6, 1.0), lines.epoch(0, 2, 8)]
    c = build_curves(recs)
    assert c.step_x == pytest.approx([0.25, 1.75])


def test_killed_mid_epoch_uses_previous_epoch_length(lines):
    recs = [lines.epoch(0, 1, 10), lines.epoch(0, 2, 20), lines.step(0, 3, 25, 0.5)]
    c = build_curves(recs)
    assert c.stages[0].length == 3.0
    assert c.step_x == pytest.approx([2.5])


def test_resumed_step_lines_replace_and_sort(lines):
    recs = [lines.step(0, 1, 4, 3.0), lines.step(0, 1, 8, 2.0), lines.epoch(0, 1, 8)]
    recs += [lines.step(0, 1, 8, 1.5), lines.step(0, 1, 4, 2.5)]  # resumed from step 0
    c = build_curves(recs)
    assert list(zip(c.step_x, c.step_loss, strict=True)) == [(0.5, 2.5), (1.0, 1.5)]


def test_missing_values_and_non_records_are_tolerated(lines):
    recs = [
        {"event": "epoch", "stage": 0, "epoch": 1, "test_top1": None, "note": "text"},
        {"event": "epoch", "stage": 0, "epoch": 2, "test_top1": 0.5, "flag": True},
        {"event": "stage_end", "stage": 0},
        {"event": "step", "stage": 0, "loss": 1.0},  # no epoch: cannot be placed
        {"no": "event"},
    ]
    c = build_curves(recs)
    assert c.epoch_x == [1.0, 2.0]
    assert math.isnan(c.epoch["test_top1"][0]) and c.epoch["test_top1"][1] == 0.5
    assert "note" not in c.epoch and "flag" not in c.epoch
    assert c.step_x == []
    assert build_curves([]).stages == []
