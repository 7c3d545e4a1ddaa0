"""The data contract: entry ids that stay inside their folders, 0-based frame folders (1-based still read),
CSVs with a byte-order mark, header-only CSVs and missing folders as errors."""

import numpy as np
import pytest
from PIL import Image

from evqa.data import prepare
from evqa.data import video as V
from evqa.data.st_evidence import load_gen_benchmark, load_mcq_benchmark
from evqa.errors import DataError, InputError
from evqa.paths import child_path, validate_entry_id

GEN_HEADER = "entry_id,video_id,video_path,question,answer,candidates,segment\n"
MCQ_HEADER = "entry_id,video,question,options,answer\n"


@pytest.mark.parametrize(
    ("entry_id", "message"),
    [
        ("../../x", "path separator"),
        ("/etc/passwd", "path separator"),
        ("a\\b", "path separator"),
        ("..", "contains '..'"),
        ("a\x00b", "NUL or control"),
        ("a\nb", "NUL or control"),
        ("", "empty entry id"),
        ("é" * 101, "longer than 200 bytes"),
    ],
)
def test_validate_entry_id_refuses(entry_id, message):
    with pytest.raises(InputError, match=message):
        validate_entry_id(entry_id)


def test_validate_entry_id_keeps_normal_ids():
    for entry_id in ("10375_0", "vid.mp4_3", "a" * 200, "é" * 100, "x y-z"):
        assert validate_entry_id(entry_id) == entry_id


def test_child_path_stays_inside(tmp_path):
    assert child_path(tmp_path, "e1.json") == tmp_path / "e1.json"
    assert child_path(tmp_path, "e1", "masks") == tmp_path / "e1" / "masks"
    for bad in ("../x.json", "/etc/x.json", "a/../../x"):
        with pytest.raises(InputError, match="outside the folder"):
            child_path(tmp_path, bad)
    with pytest.raises(InputError, match="NUL"):
        child_path(tmp_path, "a\x00.json")


def test_child_path_refuses_symlink_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "link").symlink_to(outside)
    with pytest.raises(InputError, match="outside the folder"):
        child_path(folder, "link", "x.json")


@pytest.mark.parametrize("entry_id", ["../../x", "/abs/x", "a\x01b"])
def test_gen_loader_refuses_unsafe_ids(tmp_path, entry_id):
    path = tmp_path / "gt.csv"
    path.write_text(GEN_HEADER + f'"{entry_id}",v,v.mp4,Q,x,"[\'x\']","[[0, 1]]"\n')
    with pytest.raises(DataError, match=r"gt.csv: field 'entry_id': entry id"):
        load_gen_benchmark(path)


def test_mcq_loader_refuses_unsafe_ids(tmp_path):
    path = tmp_path / "mcq.csv"
    path.write_text(MCQ_HEADER + "../up,v.mp4,Q,\"['a', 'b']\",A\n")
    with pytest.raises(DataError, match="mcq.csv: field 'entry_id': entry id '../up' contains a path"):
        load_mcq_benchmark(path)


def test_csv_with_byte_order_mark_loads(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_bytes(("\ufeff" + GEN_HEADER + "e1,v,v.mp4,Q,x,\"['x', 'y']\",\"[[0, 1]]\"\n").encode("utf-8"))
    (entry,) = load_gen_benchmark(path)
    assert entry.entry_id == "e1" and entry.answer_index == 0 and entry.segments == [(0.0, 1.0)]
    mcq = tmp_path / "mcq.csv"
    mcq.write_bytes(("\ufeff" + MCQ_HEADER + "m1,v.mp4,Q,\"['a', 'b']\",B\n").encode("utf-8"))
    (item,) = load_mcq_benchmark(mcq)
    assert (item.entry_id, item.answer) == ("m1", "B")


def test_header_only_csv_is_an_error(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text(GEN_HEADER)
    with pytest.raises(DataError, match="gt.csv: has a header but no entries"):
        load_gen_benchmark(path)


def _folder(path, numbers, value_of=lambda n: n * 20):
    path.mkdir(parents=True)
    for n in numbers:
        Image.fromarray(np.full((8, 10, 3), value_of(n), np.uint8)).save(path / f"frame_{n:04d}.png")
    return path


def test_frame_folders_written_0_based(tmp_path):
    frames = np.zeros((3, 8, 10, 3), np.uint8)
    V.write_frame_folder(tmp_path / "f", frames)
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "frame_0000.jpg",
        "frame_0001.jpg",
        "frame_0002.jpg",
    ]
    assert V.frame_folder_convention(tmp_path / "f") == "0-based"
    assert V.frame_file_name(0) == "frame_0000.jpg"


def test_both_conventions_read_frame_i_at_i_over_6(tmp_path):
    zero = _folder(tmp_path / "zero", range(0, 4))  # frame_0000 .. frame_0003: frame i has value 20 i
    one = _folder(tmp_path / "one", range(1, 5), value_of=lambda n: (n - 1) * 20)  # frame_0001 is frame 0
    assert V.frame_folder_convention(zero) == "0-based" and V.frame_folder_convention(one) == "1-based"
    for folder in (zero, one):
        info = V.video_info(folder)
        assert (info.num_frames, info.fps) == (4, 6.0)
        out = V.read_frames(folder, [0, 3])
        assert out[:, 0, 0, 0].tolist() == [0, 60]
        sampled = V.sample_frames(folder, num_frames=2)
        assert sampled.timestamps.tolist() == [0.0, 0.5]


def test_frame_folder_gap_reads_by_number(tmp_path):
    folder = _folder(tmp_path / "gap", [0, 1, 3])  # frame 2 missing
    assert V.video_info(folder).num_frames == 4
    assert V.read_frames(folder, [3])[0, 0, 0, 0] == 60  # frame_0003, not the third file
    with pytest.raises(DataError, match=r"no file for frame\(s\) \[2\]"):
        V.read_frames(folder, [2])


def test_data_check_reports_the_convention(tmp_path):
    csv_path = tmp_path / "gt.csv"
    csv_path.write_text(
        GEN_HEADER + 'e1,va,va.mp4,Q,x,"[\'x\']","[[0, 0.5]]"\n' + 'e2,vb,vb.mp4,Q,x,"[\'x\']","[[0, 0.5]]"\n'
    )
    _folder(tmp_path / "frames" / "va", range(0, 4))
    _folder(tmp_path / "frames" / "vb", range(1, 5))
    report = prepare.check_dataset(csv_path, frames_dir=tmp_path / "frames", progress=False)
    assert report.ok, report.format()
    assert report.checked == {
        "entries": 2,
        "videos": 2,
        "frame folders 0-based": 1,
        "frame folders 1-based": 1,
    }
    assert "frame folders 1-based: 1" in report.format()


def test_extract_of_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="nowhere: folder not found"):
        prepare.extract_archives(tmp_path / "nowhere", progress=False)
