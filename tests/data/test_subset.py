"""The deterministic stratified subset: largest-remainder allocation by hand, determinism, contracts."""

import random

import pytest

from evqa.data.subset import largest_remainder_allocation, stratified_subset
from evqa.errors import DataError


def _rows(sizes):
    """Rows with `show_name` strata of the given sizes and unique qids."""
    rows = []
    for show, size in sizes.items():
        rows += [{"qid": f"{show}-{k}", "show_name": show, "q": f"question {k}"} for k in range(size)]
    return rows


def test_allocation_by_hand():
    # exact quotas 5, 3, 2
    assert largest_remainder_allocation({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}
    # quotas 2.0, 1.2, 0.8: floors 2, 1, 0; one left -> largest remainder .8 (c)
    assert largest_remainder_allocation({"a": 5, "b": 3, "c": 2}, 4) == {"a": 2, "b": 1, "c": 1}
    # quotas 3.5, 3.5, 3.0: floors 3, 3, 3; one left, a and b tie on .5 and on size -> the smaller name
    assert largest_remainder_allocation({"b": 7, "a": 7, "c": 6}, 10) == {"a": 4, "b": 3, "c": 3}
    # sizes 9, 3, 3 of 15, n = 5: quotas 3, 1, 1 exact
    assert largest_remainder_allocation({"x": 9, "y": 3, "z": 3}, 5) == {"x": 3, "y": 1, "z": 1}
    # sizes 3, 1 of 4, n = 2: quotas 1.5, 0.5: floors 1, 0, remainders equal (2/4) -> larger stratum x
    assert largest_remainder_allocation({"y": 1, "x": 3}, 2) == {"x": 2, "y": 0}
    with pytest.raises(ValueError, match="cannot take 5 rows from 4"):
        largest_remainder_allocation({"a": 4}, 5)


def test_subset_counts_stats_and_qids():
    rows = _rows({"Friends": 7, "House": 7, "Castle": 6})
    subset = stratified_subset(rows, by="show_name", n=10, seed=42)
    assert len(subset.rows) == len(subset.qids) == len(subset.indices) == 10
    takes = {s: v["take"] for s, v in subset.stats["strata"].items()}
    # quotas 3.5, 3.5, 3.0 -> Castle 3, Friends 4 (name before House), House 3
    assert takes == {"Castle": 3, "Friends": 4, "House": 3}
    assert subset.stats["strata"]["Friends"] == {"pool": 7, "quota": 3.5, "take": 4}
    assert (subset.stats["n"], subset.stats["target_n"], subset.stats["total_pool"]) == (10, 10, 20)
    assert (subset.stats["by"], subset.stats["seed"], subset.stats["allocation"]) == (
        "show_name", 42, "largest_remainder")  # fmt: skip
    # chosen rows per stratum match the allocation, ids match rows, input order kept
    for show, k in takes.items():
        assert sum(r["show_name"] == show for r in subset.rows) == k
    assert subset.qids == [r["qid"] for r in subset.rows]
    assert subset.indices == sorted(subset.indices)
    assert [rows[i] for i in subset.indices] == subset.rows


def test_same_input_and_seed_same_output_and_input_order_does_not_matter():
    rows = _rows({"A": 40, "B": 25, "C": 13, "D": 2})
    first = stratified_subset(rows, by="show_name", n=17, seed=42)
    again = stratified_subset(rows, by="show_name", n=17, seed=42)
    assert first == again
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert sorted(stratified_subset(shuffled, by="show_name", n=17, seed=42).qids) == sorted(first.qids)
    other = stratified_subset(rows, by="show_name", n=17, seed=7)
    assert other.stats["strata"] == first.stats["strata"]  # same allocation
    assert set(other.qids) != set(first.qids)  # different rows


def test_povqa_sized_subset_sums_to_n_and_stays_within_one_of_proportional():
    sizes = {"friends": 5337, "bbt": 4198, "castle": 2191, "house": 1752, "met": 1183, "grey": 592}
    subset = stratified_subset(_rows(sizes), by="show_name", n=5000, seed=42)
    strata = subset.stats["strata"]
    assert sum(s["take"] for s in strata.values()) == 5000 == len(set(subset.qids))
    total = sum(sizes.values())
    for show, size in sizes.items():
        assert strata[show]["quota"] == pytest.approx(5000 * size / total)
        assert abs(strata[show]["take"] - 5000 * size / total) < 1


def test_edges_and_errors():
    rows = _rows({"A": 3, "B": 2})
    assert len(stratified_subset(rows, by="show_name", n=5).rows) == 5
    assert stratified_subset(rows, by="show_name", n=0).rows == []
    with pytest.raises(DataError, match="cannot choose 6 rows from 5"):
        stratified_subset(rows, by="show_name", n=6, source="val.jsonl")
    with pytest.raises(DataError, match="val.jsonl: entry row 2: field 'show_name': missing field"):
        stratified_subset([{"qid": 1, "show_name": "A"}, {"qid": 2}], by="show_name", n=1, source="val.jsonl")
    with pytest.raises(DataError, match="row 2: field 'qid': duplicate id"):
        stratified_subset([{"qid": 1, "show_name": "A"}, {"qid": 1, "show_name": "B"}], by="show_name", n=1)
    # non-string strata and ids are written as strings
    subset = stratified_subset(
        [{"qid": 10, "show_name": 3}, {"qid": 11, "show_name": 4}], by="show_name", n=2
    )
    assert subset.qids == ["10", "11"] and set(subset.stats["strata"]) == {"3", "4"}


def test_data_subset_cli_writes_rows_stats_and_qids(tmp_path, capsys):
    import json

    from evqa.cli.main import main

    rows = _rows({"friends": 6, "bbt": 3, "house": 1})
    src = tmp_path / "tvqa_val.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["data", "subset", str(src), "--by", "show_name", "--n", "5", "--seed", "42"]
    assert main(argv) == 0
    out = tmp_path / "tvqa_val_5_seed42.jsonl"
    chosen = [json.loads(line) for line in out.read_text().splitlines()]
    stats = json.loads((tmp_path / "tvqa_val_5_seed42.stats.json").read_text())
    qids = (tmp_path / "tvqa_val_5_seed42.qids.txt").read_text().splitlines()
    # quotas 3, 1.5, 0.5: floors 3, 1, 0; the one row left goes to bbt (remainder 0.5 ties, larger stratum)
    assert {k: v["take"] for k, v in stats["strata"].items()} == {"bbt": 2, "friends": 3, "house": 0}
    assert stats["n"] == 5 and stats["seed"] == 42 and stats["by"] == "show_name"
    assert qids == [r["qid"] for r in chosen] == stratified_subset(rows, by="show_name", n=5).qids
    assert chosen == [r for r in rows if r["qid"] in set(qids)]  # the rows themselves, in input order
    assert "5 of 10 rows (3 show_name strata)" in capsys.readouterr().out
    # the same command again writes the same bytes
    before = out.read_bytes()
    assert main([*argv, "--out", str(tmp_path / "again.jsonl")]) == 0
    assert (tmp_path / "again.jsonl").read_bytes() == before
    assert (tmp_path / "again.qids.txt").is_file() and (tmp_path / "again.stats.json").is_file()


def test_data_subset_cli_errors(tmp_path, capsys):
    from evqa.cli.main import main

    assert main(["data", "subset", str(tmp_path / "missing.jsonl"), "--by", "show_name", "--n", "1"]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": 1, "show_name": "a"}\n{"qid": 2\n')
    assert main(["data", "subset", str(bad), "--by", "show_name", "--n", "1"]) == 2
    assert "line 2" in capsys.readouterr().err


def test_subset_files_have_umask_permissions_and_no_temp_files(tmp_path):
    import os
    import stat

    from evqa.data.subset import write_subset

    subset = stratified_subset(_rows({"a": 3, "b": 2}), by="show_name", n=3)
    old = os.umask(0o022)
    try:
        paths = write_subset(subset, tmp_path / "s.jsonl")
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths.values()} == {0o644}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl", "s.qids.txt", "s.stats.json"]
