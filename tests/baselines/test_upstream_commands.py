"""Every command line of the upstream README that runs an inference script of this repository, as written,
from its folder. API models run against local fake servers (base URLs from the environment) on the synthetic
benchmark; those needing real weights or a GPU run with --dry-run (benchmark/README.md lists them)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import API_KEY
from .fake_api import FakeGemini, FakeOpenAI

REPO = Path(__file__).resolve().parents[2]

# (folder, command line exactly as the README writes it)
API_COMMANDS = [
    ("st_evidence_gen", "python gpt_st_evidence.py --model o3 --mode single-turn --fps 1"),
    ("st_evidence_gen", "python gemini_st_evidence.py --model gemini-2.5-flash --mode single-turn"),
    ("st_evidence_gen", "python gemini_st_evidence.py --model gemini-2.5-pro --mode single-turn"),
    ("st_evidence_mcq", "python gpt_st_evidence_mcq.py --task all --model o3"),
    ("st_evidence_mcq", "python gemini_st_evidence_mcq.py --fps 1 --task all --model gemini-2.5-pro"),
]
WEIGHTS_COMMANDS = [
    (
        "st_evidence_gen",
        "CUDA_VISIBLE_DEVICES=0 python unipixel_st_evidence.py --fps 1.0 --model PolyU-ChenLab/UniPixel-3B",
    ),
    ("st_evidence_gen", "bash ours_st_evidence_multigpu.sh /path/to/trained/model 8 0"),
    ("st_evidence_gen", "CUDA_VISIBLE_DEVICES=0 python sa2va_st_evidence.py --device cuda"),
    ("st_evidence_gen", "CUDA_VISIBLE_DEVICES=0 python internvl_3_5.py --mode single-turn"),
    (
        "st_evidence_gen",
        "CUDA_VISIBLE_DEVICES=0 python qwen2_5vl_st_evidence.py --model Qwen/Qwen2.5-VL-7B-Instruct --fps 1 --mode single-turn",
    ),
    (
        "st_evidence_gen",
        "CUDA_VISIBLE_DEVICES=0,1,2,3 python qwen2_5vl_st_evidence.py --model Qwen/Qwen2.5-VL-72B-Instruct --fps 1 --gpu-num 4",
    ),
    (
        "st_evidence_gen",
        "CUDA_VISIBLE_DEVICES=0 python qwen3vl_st_evidence.py --model Qwen/Qwen3-VL-4B-Instruct --fps 1 --batch-size 8 --gpu-num 1 --mode single-turn",
    ),
    (
        "st_evidence_gen",
        "CUDA_VISIBLE_DEVICES=0 python videollama3_st_evidence.py --model DAMO-NLP-SG/VideoLLaMA3-3B --mode single-turn --fps 1 --max-frames 128",
    ),
    (
        "st_evidence_gen",
        "CUDA_VISIBLE_DEVICES=0 python llava_ov1_5_st_evidence.py --mode single-turn --max-size 512",
    ),
    (
        "st_evidence_gen",
        "python unipixel_video_seg.py results/qwen3vl/qwen3_vl_235b_a22b_instruct_st_evidence_ref_exp_1fps.json --save_masks --skip_viz --mode seperate --batch_size 5 --every_n_frames 6",
    ),
    ("st_evidence_mcq", "python ours_st_evidence_mcq.py --task qa --model /path/to/model"),
    ("st_evidence_mcq", "python ours_st_evidence_mcq.py --task all --model /path/to/model"),
    (
        "st_evidence_mcq",
        "CUDA_VISIBLE_DEVICES=0,1,2,3 python qwen2_5vl_st_evidence_mcq.py --task all --model Qwen/Qwen2.5-VL-72B-Instruct --batch_size 8 --gpu_num 4",
    ),
    (
        "st_evidence_mcq",
        "CUDA_VISIBLE_DEVICES=0 python qwen3vl_st_evidence_mcq.py --task all --model Qwen/Qwen3-VL-4B-Instruct --batch_size 8 --gpu_num 1",
    ),
]


@pytest.fixture
def benchmark_copy(tmp_path):
    """The benchmark/ folder copied elsewhere, so outputs land in a temporary results/ folder."""
    dest = tmp_path / "benchmark"
    shutil.copytree(
        REPO / "benchmark", dest, ignore=shutil.ignore_patterns("results", "__pycache__", "sample")
    )
    return dest


def run(command, cwd, env, timeout=300):
    env = {**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}  # `python` = this interpreter
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_api_commands_run_as_written(synth, benchmark_copy):
    with FakeOpenAI() as openai, FakeGemini() as gemini:
        env = {
            **os.environ,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": openai.url + "/v1",
            "GEMINI_API_KEY": API_KEY,
            "GEMINI_BASE_URL": gemini.url,
            "EVQA_SYNTH_ROOT": str(synth.root),
        }
        for folder, command in API_COMMANDS:
            done = run(command, benchmark_copy / folder, env)
            assert done.returncode == 0, (command, done.stderr[-2000:])
            assert API_KEY not in done.stdout + done.stderr
    produced = sorted(str(p.relative_to(benchmark_copy)) for p in benchmark_copy.rglob("results/*/*.json"))
    assert produced == [
        "st_evidence_gen/results/gemini/gemini_2_5_flash_st_evidence_single_1fps.json",
        "st_evidence_gen/results/gemini/gemini_2_5_pro_st_evidence_single_1fps.json",
        "st_evidence_gen/results/gpt/o3_st_evidence_single_1fps.json",
        "st_evidence_mcq/results/gemini/gemini_2_5_pro_st_evidence_mcq_all.json",
        "st_evidence_mcq/results/gpt/o3_st_evidence_mcq_all.json",
    ]
    gen = json.loads(
        (benchmark_copy / "st_evidence_gen/results/gpt/o3_st_evidence_single_1fps.json").read_text()
    )
    assert len(gen) == 6 and all(r["error"] is None for r in gen.values())
    # the README's scoring line for these files works from the same folder
    done = run(
        "python eval_st_evidence.py --pred_file results/gpt/o3_st_evidence_single_1fps.json",
        benchmark_copy / "st_evidence_gen",
        {**os.environ, "EVQA_SYNTH_ROOT": str(synth.root)},
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize(
    ("folder", "command"),
    WEIGHTS_COMMANDS,
    ids=[c.split(".py")[0].split()[-1].split(".sh")[0] + str(i) for i, (_, c) in enumerate(WEIGHTS_COMMANDS)],
)
def test_weights_commands_dry_run_as_written(folder, command, synth, benchmark_copy):
    step1 = (
        benchmark_copy / folder / "results/qwen3vl/qwen3_vl_235b_a22b_instruct_st_evidence_ref_exp_1fps.json"
    )
    step1.parent.mkdir(parents=True)
    first = "synth_test_0000_0"
    step1.write_text(
        json.dumps(
            {
                first: {
                    "error": None,
                    "parsed_response": {
                        "answer": "A",
                        "segments": [[1.0, 2.0]],
                        "referring_expressions": ["the cyan square"],
                    },
                }
            }
        )
    )
    env = {**os.environ, "EVQA_SYNTH_ROOT": str(synth.root), "CUDA_VISIBLE_DEVICES": ""}
    done = run(command + " --dry-run", benchmark_copy / folder, env)
    assert done.returncode == 0, (command, done.stderr[-2000:])
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if "unipixel_video_seg" in command:
        assert lines == [
            f"{first}: ['the cyan square'] from 1.0 s -> results/qwen3vl/"
            f"qwen3_vl_235b_a22b_instruct_st_evidence_ref_exp_1fps/seperate/{first}.json"
        ]
        return
    plans = [json.loads(line) for line in lines]
    assert len(plans) == 6  # every entry once, also across the 8 shards of the multi-GPU script
    assert len({p["entry_id"] for p in plans}) == 6
    assert all(p["timestamps"] and p["prompts"] for p in plans)
