"""GT loaders of the generative CSV: both segment column names, literal parsing, clear errors."""

import pytest

from evqa.data.st_evidence import load_gen_benchmark
from evqa.errors import DataError

HEADER = "entry_id,video_id,video_path,question,answer,candidates,{seg},source,category,duration\n"


def _write(tmp_path, rows, seg="segment"):
    path = tmp_path / "gt.csv"
    path.write_text(HEADER.format(seg=seg) + "".join(rows))
    return path


def test_reads_entries(tmp_path):
    path = _write(
        tmp_path,
        [
            "10375_0,10375,010375_video.mp4,What?,A pole,\"['A desk', 'A pole']\",\"[[0.0, 14.5]]\",vicas,obj,20\n"
        ],
    )
    (entry,) = load_gen_benchmark(path)
    assert entry.entry_id == "10375_0" and entry.candidates == ["A desk", "A pole"]
    assert entry.answer_index == 1 and entry.segments == [(0.0, 14.5)]
    assert entry.source == "vicas" and entry.category == "obj" and entry.extra == {"duration": "20"}


def test_temporal_evidence_column(tmp_path):
    path = _write(tmp_path, ['e,v,v.mp4,Q,x,"[\'x\']","[[1, 2], [3, 4]]",,,\n'], seg="temporal_evidence")
    (entry,) = load_gen_benchmark(path)
    assert entry.segments == [(1.0, 2.0), (3.0, 4.0)] and entry.source is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('e,v,v.mp4,Q,x,"[\'x\'","[[1, 2]]",,,\n', "entry e: field 'candidates': not a Python literal"),
        ("e,v,v.mp4,Q,x,\"['x']\",\"[['a', 2]]\",,,\n", "entry e: field 'segment'"),
        ('e,v,v.mp4,Q,x,"__import__(\'os\')","[]",,,\n', "field 'candidates'"),
    ],
)
def test_bad_cells_name_entry_and_field(tmp_path, row, message):
    with pytest.raises(DataError, match=message):
        load_gen_benchmark(_write(tmp_path, [row]))


def test_duplicate_and_missing_columns(tmp_path):
    row = 'e,v,v.mp4,Q,x,"[\'x\']","[]",,,\n'
    with pytest.raises(DataError, match="duplicate entry_id"):
        load_gen_benchmark(_write(tmp_path, [row, row]))
    bad = tmp_path / "nocol.csv"
    bad.write_text("entry_id,answer,candidates\ne,x,[]\n")
    with pytest.raises(DataError, match="need 'segment' or 'temporal_evidence'"):
        load_gen_benchmark(bad)


def test_mask_options_resolve_to_image_paths(tmp_path):
    import json

    from evqa.data.st_evidence import load_mcq_benchmark

    csv = tmp_path / "mcq.csv"
    csv.write_text("entry_id,video,question,options,answer\nm1,v1.mp4,Q?,\"['x', 'y']\",x\n")
    keyed = {"gt": "o/gt.png", "d1": "o/d1.png", "options": ["d1", "gt"], "answer": 1}
    listed = {"mcq_options": ["p/a.png", "p/b.png"], "correct_answer": "A"}
    for record, paths, letter in (
        (keyed, ["o/d1.png", "o/gt.png"], "B"),
        (listed, ["p/a.png", "p/b.png"], "A"),
    ):
        (tmp_path / "masks.json").write_text(json.dumps({"m1": record}))
        (entry,) = load_mcq_benchmark(csv, mask_file=tmp_path / "masks.json")
        assert entry.mask_options == paths
        assert entry.mask_answer == letter
