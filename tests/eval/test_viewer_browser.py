"""The error viewer in a real browser: headless Chromium (Debian's package) driven by Playwright.

The report is opened from disk (file://), as a user opens it: the summary numbers must be the results
JSON's, a filter must leave exactly the expected entries, an opened entry must draw its timeline segments
where its times say and load its mask overlays, and a 1,300-entry report must open from its index alone.
"""

import json
import os
import struct
import threading
import time
from pathlib import Path

import pytest
from test_viewer_data import GT_CSV, GT_MASKS, PRED_A, write_run_b

from evqa.eval.viewer import (
    EntryView,
    FrameView,
    JudgeView,
    MetricTable,
    RunEntryView,
    RunHeader,
    RunView,
    ViewReport,
    render_report,
    write_st_evidence_gen_viewer,
)
from evqa.eval.viewer.serve import make_server, server_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it: apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium for the module, with a fresh profile folder; its own browser download is never used."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        yield context
        context.close()


@pytest.fixture
def page(browser):
    """A new tab that records every URL it requests (`page.requested`) and fails on a script error."""
    tab = browser.new_page()
    tab.requested, errors = [], []
    tab.on("request", lambda request: tab.requested.append(request.url))
    tab.on("pageerror", lambda err: errors.append(str(err)))
    yield tab
    tab.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def ab_report(tmp_path_factory):
    """The A/B sample report (chunks of 3 entries, so opening s1 loads only the first of 3 data files)."""
    root = tmp_path_factory.mktemp("viewer_browser")
    pred_b = write_run_b(root / "preds")
    index = write_st_evidence_gen_viewer(root / "report", GT_CSV, [PRED_A, pred_b], gt_mask_dir=GT_MASKS,
                                         chunk_size=3, progress=False)  # fmt: skip
    return index


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]")


def _visible_ids(page) -> list[str]:
    return page.locator("#entry-list tbody tr.entry-row").evaluate_all(
        "rows => rows.map(r => r.dataset.entryId)"
    )


def _metric_cells(page, table: str) -> dict:
    """{(run index, metric): (data-value, shown text)} of one summary table."""
    cells = page.locator(f'table[data-table="{table}"] td[data-metric]').evaluate_all(
        "tds => tds.map(td => [td.parentElement.dataset.run, td.dataset.metric, td.dataset.value, td.textContent])"
    )
    return {(int(run), metric): (value, text) for run, metric, value, text in cells}


def test_summary_numbers_equal_the_results_json(page, ab_report):
    _open(page, ab_report.as_uri())
    cells = _metric_cells(page, "Metrics")
    sections = {"Acc": ("qa_metrics", "accuracy"), "EB-Acc": ("evidence_backed", "accuracy"), "mIoU": ("temporal_metrics", "mIoU"),
                "TIoP@0.5": ("temporal_metrics", "TIoP@0.5"), "t-mean": ("temporal_metrics", "t_mean"),
                "J": ("mask_metrics", "J"), "J&F": ("mask_metrics", "J&F")}  # fmt: skip
    for run, name in enumerate("AB"):
        results = json.loads((ab_report.parent / "results" / f"run_{name}.json").read_text())
        for metric, (section, key) in sections.items():
            expected = results[section][key]
            value, text = cells[(run, metric)]
            assert float(value) == expected and text == f"{expected:.2f}", (name, metric)
    assert cells[(0, "Acc")][1] == "57.14" and cells[(1, "Acc")][1] == "42.86"
    failures = _metric_cells(page, "Failure types")
    assert [failures[(1, f)][1] for f in ("correct", "wrong_answer", "right_answer_bad_evidence", "unparsable",
                                          "failed_call")] == ["2", "1", "1", "1", "2"]  # fmt: skip
    ab = page.locator("#ab-table td[data-key]").evaluate_all(
        "tds => tds.map(td => [td.dataset.key, td.textContent])"
    )
    assert dict(ab) == {"both": "2", "only_a": "2", "only_b": "1", "neither": "2", "differ": "4"}
    # nothing but the report's own files, and no entry data before an entry is opened
    assert all(url.startswith("file://") for url in page.requested)
    assert not any("entries_" in url for url in page.requested)


def test_filters_leave_the_expected_entries(page, ab_report):
    _open(page, ab_report.as_uri())
    assert _visible_ids(page) == ["s1", "s2", "s6", "s7", "s3", "s4", "s5"]  # A/B: differing entries first
    page.select_option("#filter-failure", "failed_call")
    assert _visible_ids(page) == ["s6", "s7", "s3"]  # failed in any run: s6 (A), s7 (B), s3 (both)
    page.select_option("#filter-run", "1")
    assert _visible_ids(page) == ["s7", "s3"]
    assert page.locator("#list-count").text_content() == "2 of 7 entries"
    page.select_option("#filter-failure", "")
    page.select_option("#filter-category", "action")
    assert _visible_ids(page) == ["s2", "s6", "s5"]
    page.select_option("#filter-category", "")
    page.check("#filter-differ")
    assert _visible_ids(page) == ["s1", "s2", "s6", "s7"]
    page.fill("#filter-search", "woman")
    assert _visible_ids(page) == ["s2"]


def _bar(page, selector: str) -> tuple[float, float]:
    """(left, width) of a timeline bar as drawn, in percent of its track's inner width."""
    return page.eval_on_selector(
        selector,
        """e => {
        const t = e.parentElement, box = t.getBoundingClientRect(), r = e.getBoundingClientRect();
        const inner = box.left + t.clientLeft;
        return [100 * (r.left - inner) / t.clientWidth, 100 * r.width / t.clientWidth]; }""",
    )


def _loaded(page, selector: str) -> int:
    """naturalWidth of an image once it has loaded (scrolled into view first: images load lazily)."""
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_function("s => { const i = document.querySelector(s); return i.complete && i.naturalWidth > 0; }",
                           arg=selector)  # fmt: skip
    return page.eval_on_selector(selector, "i => i.naturalWidth")


def test_an_entry_shows_its_timeline_masks_and_reply(page, ab_report, tmp_path):
    _open(page, ab_report.as_uri())
    page.click('#entry-list tr[data-entry-id="s1"]')
    page.wait_for_selector('#entry-detail[data-entry-id="s1"]')
    assert page.locator("#browser").is_hidden()
    assert [url.rsplit("/", 1)[1] for url in page.requested if "entries_" in url] == ["entries_000.js"]
    # s1 lasts 20 s: GT [2, 6] -> 10 % + 20 %; A [2, 5] -> 10 % + 15 %; B [10, 12] -> 50 % + 10 %
    for selector, (left, width) in {
        ".seg.gt": (10, 20),
        ".seg.pred.run-0": (10, 15),
        ".seg.pred.run-1": (50, 10),
    }.items():
        drawn = _bar(page, f"#entry-detail {selector}")
        assert drawn == pytest.approx((left, width), abs=0.2), selector
        assert page.eval_on_selector(f"#entry-detail {selector}", "e => e.style.left") == f"{left}%"
    scores = page.locator("#entry-detail .timeline .scores[data-run]").all_text_contents()
    assert scores == ["IoU 0.75 · IoP 1.00", "IoU 0.00 · IoP 0.00"]
    # frame 0 of run B: the GT outline and B's predicted fill, both at the mask's 128 px
    frame = '.frames[data-run="1"] figure[data-frame="0"]'
    assert _loaded(page, f"{frame} img.overlay.gt") == 128
    assert _loaded(page, f"{frame} img.overlay.pred.run-1") == 128
    assert page.eval_on_selector(f"{frame} img.overlay.pred", "i => i.loading") == "lazy"
    assert page.locator('.frames[data-run="1"] figure[data-frame="6"] img.overlay.pred').count() == 0
    why = page.locator('#entry-runs tr[data-run="1"] td').nth(3).text_content()
    assert why == "temporal IoP 0.00 < 0.5; mask J 0.33 < 0.5"
    shot = tmp_path / "entry_s1.png"
    page.screenshot(path=str(shot), full_page=True)
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    width, height = struct.unpack(">II", header[16:24])
    assert width == 1280 and height > 900  # the whole entry page, taller than the window


def test_a_reply_is_shown_as_text_and_back_keeps_the_filters(page, ab_report):
    _open(page, ab_report.as_uri())
    page.select_option("#filter-category", "action")
    page.click('#entry-list tr[data-entry-id="s2"]')
    page.wait_for_selector('#entry-detail[data-entry-id="s2"]')
    raw = page.locator('#entry-detail pre.raw[data-run="1"]')
    assert raw.text_content() == "I cannot tell <b>which</b>" and raw.locator("b").count() == 0
    assert (
        page.locator('#entry-detail pre.raw[data-run="0"]').text_content()
        == "a pole, seen during [[0, 4], [0, 4], [1, 3]]"
    )
    page.click("#next-entry")  # the next entry of the filtered list
    page.wait_for_selector('#entry-detail[data-entry-id="s6"]')
    page.click("#back")
    page.wait_for_selector("#entry-detail", state="hidden")
    assert _visible_ids(page) == ["s2", "s6", "s5"]


def test_served_report_is_the_same(page, ab_report):
    server = make_server(ab_report.parent, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _open(page, server_url(server))
        assert _metric_cells(page, "Metrics")[(0, "Acc")] == ("57.1429", "57.14")
        page.click('#entry-list tr[data-entry-id="s1"]')
        assert _loaded(page, '.frames[data-run="0"] figure[data-frame="0"] img.overlay.gt') == 128
    finally:
        server.shutdown()
        server.server_close()


def test_video_frames_under_the_overlays(page, synth_report):
    index, entry_id = synth_report
    _open(page, index.as_uri())
    page.click(f'#entry-list tr[data-entry-id="{entry_id}"]')
    page.wait_for_selector(f'#entry-detail[data-entry-id="{entry_id}"]')
    figure = page.locator('.frames[data-run="0"] figure').filter(has=page.locator("img.overlay.gt")).first
    frame = figure.get_attribute("data-frame")
    selector = f'.frames[data-run="0"] figure[data-frame="{frame}"]'
    assert _loaded(page, f"{selector} img.frame-image") == 64  # the 112-px video frames at --thumb_width 64
    assert _loaded(page, f"{selector} img.overlay.gt") == 64
    assert _loaded(page, f"{selector} img.overlay.pred.run-0") == 64


@pytest.fixture(scope="module")
def synth_report(tmp_path_factory):
    """A report on a four-clip synthetic benchmark with videos: the oracle's predictions, thumbnails 64 px."""
    from evqa.data.synth import generate
    from evqa.data.synth.paths import SynthPaths

    root = tmp_path_factory.mktemp("viewer_synth")
    generate(root / "synth", num_train=0, num_test=4, score=False, progress=False)
    paths = SynthPaths(root / "synth")
    pred, masks = paths.baseline("oracle_gt")
    index = write_st_evidence_gen_viewer(root / "report", paths.gen_csv, [pred], pred_mask_dirs=[masks],
                                         video_dir=paths.video_dir, gt_mask_dir=paths.gt_mask_rle_dir,
                                         thumb_width=64, progress=False)  # fmt: skip
    first = paths.gen_csv.read_text().splitlines()[1].split(",")[0]
    return index, first


def _large_report(n: int) -> ViewReport:
    """n entries (two runs, no images): what a full benchmark's report holds, minus the pictures."""
    runs = [RunView("A", "a.json", RunHeader(model="m-a")), RunView("B", "b.json", RunHeader(model="m-b"))]
    table = MetricTable("Metrics", ["Acc"])
    table.add_row("A", {"Acc": 50.0}, run=0)
    table.add_row("B", {"Acc": 25.0}, run=1)
    report = ViewReport("large", "synthetic", runs, tables=[table])
    for i in range(n):
        a = RunEntryView("correct" if i % 2 else "wrong_answer", correct=bool(i % 2), answer="A. x",
                         raw_reply="Answer: A " * 40, segments=[(1.0, 2.0)], iou=0.5, iop=0.5)  # fmt: skip
        b = RunEntryView("correct" if i % 4 == 1 else "failed_call", correct=i % 4 == 1, error="timeout",
                         judge=JudgeView("yes", 4.0, "{'pred': 'yes', 'score': 4}") if i % 4 == 1 else None)  # fmt: skip
        entry = EntryView(f"q{i:04d}", f"Question number {i} about the video?", "x", ["x", "y", "z"], 0,
                          category=f"c{i % 5}", source="s", duration=10.0, gt_segments=[(1.0, 3.0)], runs=[a, b],
                          frames=[FrameView(6 * k, float(k), pred_overlays=[None, None]) for k in range(8)])  # fmt: skip
        report.entries.append(entry)
    return report


def test_a_1300_entry_report_opens_from_its_index(page, tmp_path):
    index = render_report(_large_report(1300), tmp_path, chunk_size=100)
    assert len(list((tmp_path / "data").glob("entries_*.js"))) == 13
    started = time.perf_counter()
    _open(page, index.as_uri())
    opened = time.perf_counter() - started
    assert page.locator("#entry-list tbody tr").count() == 50
    assert page.locator("#list-count").text_content() == "1300 of 1300 entries (50 per page)"
    assert not any("entries_" in url for url in page.requested)
    # ~1.3 MB of entries stay on disk; the page reads the index (a few hundred KB) only
    assert os.path.getsize(tmp_path / "data" / "report.js") < 400_000
    assert opened < 10, f"the page took {opened:.1f} s to open"
    page.click("#page-next")
    differing = [i for i in range(1300) if i % 4 != 1]  # the runs agree only where i % 4 == 1 (both correct)
    assert _visible_ids(page)[0] == f"q{differing[50]:04d}"  # page 2 starts at the 51st differing entry
    page.goto(index.as_uri() + "#entry=q1250")
    page.wait_for_selector('#entry-detail[data-entry-id="q1250"]')
    assert [u.rsplit("/", 1)[1] for u in page.requested if "entries_" in u] == ["entries_012.js"]
    assert page.locator('#entry-detail p.judge-verdict[data-run="1"]').count() == 0
    page.goto(index.as_uri() + "#entry=q1249")
    page.wait_for_selector('#entry-detail[data-entry-id="q1249"]')
    assert (
        page.locator('#entry-detail p.judge-verdict[data-run="1"]').text_content()
        == "verdict: yes, score: 4.0"
    )
    assert page.locator("#entry-detail pre.judge-raw").text_content() == "{'pred': 'yes', 'score': 4}"


def test_mcq_option_images_and_time_options(page, tmp_path):
    from evqa.data.st_evidence import load_mcq_benchmark
    from evqa.data.synth import generate
    from evqa.data.synth.paths import SynthPaths
    from evqa.eval.viewer import write_st_evidence_mcq_viewer

    generate(tmp_path / "synth", num_train=0, num_test=2, score=False, progress=False)
    paths = SynthPaths(tmp_path / "synth")
    entries = load_mcq_benchmark(paths.mcq_csv, paths.temp_options, paths.mask_options)
    entry = entries[0]
    pred = tmp_path / "mcq.json"
    pred.write_text(
        json.dumps({entry.entry_id: {"answer": entry.answer, "evidence_t": "A", "evidence_s": "B"}})
    )
    index = write_st_evidence_mcq_viewer(tmp_path / "r", paths.mcq_csv, [pred], distractors_file=paths.temp_options,
                                         mask_file=paths.mask_options, video_dir=paths.video_dir, progress=False)  # fmt: skip
    _open(page, index.as_uri())
    page.select_option("#filter-category", "spatial_evidence")
    assert _visible_ids(page) == [f"{e.entry_id}:spatial_evidence" for e in entries]
    page.click(f'#entry-list tr[data-entry-id="{entry.entry_id}:spatial_evidence"]')
    page.wait_for_selector(f'#entry-detail[data-entry-id="{entry.entry_id}:spatial_evidence"]')
    captions = page.locator("#entry-detail figure figcaption").all_text_contents()
    assert captions == [f"option {c}" + (" (GT)" if c == entry.mask_answer else "") for c in "ABCD"]
    assert _loaded(page, '#entry-detail figure[data-frame="3"] img.frame-image') == 112
    page.goto(index.as_uri() + "#entry=" + entry.entry_id + ":time_evidence")
    page.wait_for_selector(f'#entry-detail[data-entry-id="{entry.entry_id}:time_evidence"]')
    length = float(page.get_attribute("#entry-detail .timeline", "data-length"))
    ((start, end),) = entry.time_options[0]  # run A picked option A
    drawn = _bar(page, "#entry-detail .seg.pred.run-0")
    assert drawn == pytest.approx((100 * start / length, 100 * (end - start) / length), abs=0.2)


# --- a registry benchmark (TVQA; EgoTextVQA for the judge) through the one generic builder ------------------


@pytest.fixture(scope="module")
def tvqa_report(tmp_path_factory):
    """The TVQA A/B report of test_view_registry's two runs, with `evqa eval`'s results JSON of run A."""
    from test_view_registry import tvqa_runs

    from evqa.cli.main import main

    root = tmp_path_factory.mktemp("viewer_tvqa")
    _, _, records, (pa, pb) = tvqa_runs(root)
    assert (
        main(["eval", "--benchmark", "tvqa", "--data-dir", str(root / "data"), "--pred_file", str(pa)]) == 0
    )
    out = root / "report"
    assert main(["view", "--benchmark", "tvqa", "--data-dir", str(root / "data"), "--pred_file", str(pa),
                 "--pred_file", str(pb), "--out", str(out), "--no_progress"]) == 0  # fmt: skip
    return out / "index.html", json.loads(pa.with_name("a_eval.json").read_text()), records


def test_registry_benchmark_in_the_browser(page, tvqa_report, tmp_path):
    index, evaluated, records = tvqa_report
    _open(page, index.as_uri())
    assert page.locator("#title").text_content() == "tvqa: a vs b"
    cells = _metric_cells(page, "Metrics")
    value, text = cells[(0, "Acc")]
    assert (
        float(value) == evaluated["metrics"]["accuracy"] and text == f"{evaluated['metrics']['accuracy']:.2f}"
    )
    assert cells[(0, "Acc")][1] == "50.00" and cells[(1, "Acc")][1] == "41.67"
    failures = _metric_cells(page, "Failure types")
    assert [failures[(1, f)][1] for f in ("correct", "wrong_answer", "unparsable", "failed_call")] == [
        "10",
        "12",
        "0",
        "2",
    ]
    counts = _metric_cells(page, "Counts of the scorer")
    assert [counts[(0, k)][1] for k in ("n", "scored", "unparsable", "failed")] == [
        str(evaluated["counts"][k]) for k in ("n", "scored", "unparsable", "failed")
    ]
    options = page.locator("#filter-failure option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", "correct", "wrong_answer", "unparsable", "failed_call"]
    # A/B: the 12 entries whose failure types differ come first
    differ = [str(q) for q in range(24) if (q % 2 == 0) != (q < 12) or q in (1, 3, 5)]
    assert _visible_ids(page) == differ + [str(q) for q in range(24) if str(q) not in differ]
    page.select_option("#filter-failure", "failed_call")
    assert _visible_ids(page) == ["3", "5"]
    page.select_option("#filter-failure", "unparsable")
    page.select_option("#filter-run", "0")
    assert _visible_ids(page) == ["1"]
    page.select_option("#filter-failure", "")
    page.select_option("#filter-run", "any")
    page.select_option("#filter-category", "Friends")
    friends = [str(r.entry_id) for r in records if r.show_name == "Friends"]
    assert sorted(_visible_ids(page), key=int) == friends
    page.select_option("#filter-category", "")
    page.click('#entry-list tr[data-entry-id="1"]')
    page.wait_for_selector('#entry-detail[data-entry-id="1"]')
    gt = "ABCDE"[records[1].answer_idx]
    assert page.locator("#entry-detail ol.options li.gt").get_attribute("data-option") == str(
        records[1].answer_idx
    )
    assert page.locator('#entry-detail ol.options li.gt .pick[data-run="1"]').count() == 1  # B picked the GT
    runs = page.locator("#entry-runs tr[data-run]").evaluate_all(
        "trs => trs.map(tr => [...tr.children].slice(1, 4).map(td => td.textContent))"
    )
    assert runs == [["\u2013", "unparsable", "no answer could be read from the reply"],
                    [f"{gt}. {records[1].options[records[1].answer_idx]}", "correct", ""]]  # fmt: skip
    assert page.locator('#entry-detail pre.raw[data-run="0"]').text_content() == "I cannot say"
    assert page.locator("#entry-detail figure").count() == 4  # the frames the models were fed
    assert _loaded(page, '#entry-detail figure[data-frame="4"] img.frame-image') == 32
    assert page.locator("#entry-detail .timeline").count() == 0  # no segments in TVQA
    page.screenshot(path=str(tmp_path / "tvqa_entry.png"), full_page=True)
    assert (tmp_path / "tvqa_entry.png").stat().st_size > 5_000


def test_judged_registry_entry_shows_the_verdict(page, tmp_path):
    from test_view_registry import egotextvqa_run, judged_results

    from evqa.eval.viewer import write_benchmark_viewer

    bench, files, records, predictions, pred = egotextvqa_run(tmp_path)
    stored = json.loads(judged_results(bench, records, predictions, pred).read_text())
    index = write_benchmark_viewer(tmp_path / "v", "egotextvqa", files, [pred], progress=False)
    _open(page, index.as_uri())
    cells = _metric_cells(page, "Metrics")
    value, text = cells[(0, "Acc")]
    assert float(value) == stored["metrics"]["accuracy"] and text == f"{stored['metrics']['accuracy']:.4f}"
    page.select_option("#filter-failure", "judge_error")
    assert _visible_ids(page) == [str(records[4].entry_id)]
    page.goto(index.as_uri() + "#entry=" + str(records[0].entry_id))
    page.wait_for_selector(f'#entry-detail[data-entry-id="{records[0].entry_id}"]')
    assert (
        page.locator('#entry-detail p.judge-verdict[data-run="0"]').text_content()
        == "verdict: yes, score: 4.0"
    )
    assert page.locator("#entry-detail pre.judge-raw").text_content() == "{'pred': 'yes', 'score': 4}"
