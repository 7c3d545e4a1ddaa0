"""Prediction files (JSON, JSONL with a torn last line) and one record read under each protocol."""

import json

from evqa.eval.predictions import load_predictions, read_gen_record, upstream_segments

CANDS = ["x", "y", "z"]


def test_jsonl_both_line_forms_later_lines_win(tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [{"entry_id": "a", "parsed_response": None, "error": "boom"},
             {"b": {"parsed_response": {"answer": "B"}}},
             {"entry_id": "a", "parsed_response": {"answer": "C"}, "error": None}]  # fmt: skip
    path.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"entry_id": "c", "parsed')
    preds = load_predictions(path)
    assert set(preds) == {"a", "b"} and preds["a"]["parsed_response"]["answer"] == "C"


def test_jsonl_bad_middle_line_is_skipped_and_counted(tmp_path, caplog):
    path = tmp_path / "p.jsonl"
    path.write_text('{"entry_id": "a"}\nnot json\n{"entry_id": "b"}\n[1, 2]\n')
    assert sorted(load_predictions(path)) == ["a", "b"]
    assert "p.jsonl: skipped 2 torn or unreadable line(s)" in caplog.text


def test_read_record_statuses():
    assert read_gen_record(None, CANDS).status == "missing"
    assert read_gen_record("text", CANDS).status == "bad_record"
    assert read_gen_record({"parsed_response": {"answer": "A"}, "error": "x"}, CANDS).status == "failed"
    assert read_gen_record({"parsed_response": None}, CANDS).status == "failed"
    rec = read_gen_record({"parsed_response": {"answer": "(B)", "segments": [1, 2]}}, CANDS)
    assert (rec.status, rec.letter, rec.segments, rec.problems) == ("ok", "B", [(1.0, 2.0)], [])


def test_read_record_falls_back_to_raw_text():
    rec = read_gen_record(
        {"parsed_response": {}, "raw_response": "Answer: C. Temporal Evidence: [[1, 3]]."}, CANDS
    )
    assert rec.letter == "C" and rec.segments == [(1.0, 3.0)]
    rec = read_gen_record({"parsed_response": {"answer": "maybe"}, "raw_response": ""}, CANDS)
    assert rec.letter is None and rec.problems == ["unparsable_answer", "empty_segments"]


def test_upstream_segment_parser():
    assert upstream_segments([1, 2, 3]) == ([[1.0, 2.0]], None)  # odd tail dropped silently
    assert upstream_segments([[1, 2, 9], {"start": 3, "end": 4}]) == ([[1.0, 2.0], [3.0, 4.0]], None)
    assert upstream_segments([["a", 2], [5, 6]]) == ([[5.0, 6.0]], "malformed_segments")
    assert upstream_segments([]) == ([], "empty_segments")
    assert upstream_segments(None) == ([], "parse_errors")
    assert upstream_segments("[[1, 2]]") == ([], "parse_errors")
