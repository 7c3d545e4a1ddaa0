"""Report tables: golden strings for Markdown, LaTeX and CSV; bold best values (ties, lower-is-better,
rounding); CIs; delta tables; per-category sub-tables; missing values; escaping."""

import csv
import io

import pytest

from evqa.eval.tables import Column, format_category_tables, format_table, latex_escape

COLUMNS = [
    Column("acc", "Acc"),
    Column("miou", "mIoU"),
    Column("jf", "J&F", digits=2),
    Column("tflops", "TFLOPs", better="lower", digits=2),
    Column("params", "Params", better=None, digits=0),
]
ROWS = [
    ("ours_7b", {"acc": (71.24, 68.03, 74.46), "miou": 40.31, "jf": 55.554, "tflops": 9.26, "params": 7}),
    ("gpt-4o", {"acc": 71.16, "miou": None, "jf": 50.0, "tflops": float("nan")}),
    ("qwen 50% #1", {"acc": (60.0, 55.1, 64.9), "miou": 45.0, "jf": 55.562, "tflops": 3.5, "params": 3}),
]

MD = """\
| Run         |      Acc |     mIoU |       J&F |   TFLOPs | Params |
| :---------- | -------: | -------: | --------: | -------: | -----: |
| ours_7b     | **71.2** |     40.3 |     55.55 |     9.26 |      7 |
| gpt-4o      | **71.2** |        – |     50.00 |        – |      – |
| qwen 50% #1 |     60.0 | **45.0** | **55.56** | **3.50** |      3 |
"""

LATEX = r"""\begin{tabular}{lrrrrr}
\toprule
Run & Acc & mIoU & J\&F & TFLOPs & Params \\
\midrule
ours\_7b & \textbf{71.2} & 40.3 & 55.55 & 9.26 & 7 \\
gpt-4o & \textbf{71.2} & -- & 50.00 & -- & -- \\
qwen 50\% \#1 & 60.0 & \textbf{45.0} & \textbf{55.56} & \textbf{3.50} & 3 \\
\bottomrule
\end{tabular}
"""

CSV = """\
Run,Acc,mIoU,J&F,TFLOPs,Params
ours_7b,71.2,40.3,55.55,9.26,7
gpt-4o,71.2,,50.00,,
qwen 50% #1,60.0,45.0,55.56,3.50,3
"""


def test_golden_markdown_latex_csv():
    # Acc: 71.24 and 71.16 both show 71.2 -> a tie, both bold; TFLOPs: lower is better; Params: not ranked
    assert format_table(ROWS, COLUMNS, "md") == MD
    assert format_table(ROWS, COLUMNS, "latex") == LATEX
    assert format_table(ROWS, COLUMNS, "csv") == CSV
    parsed = list(csv.reader(io.StringIO(CSV)))
    assert parsed[2] == ["gpt-4o", "71.2", "", "50.00", "", ""]


MD_CI = """\
| Run         |                   Acc |     mIoU |
| :---------- | --------------------: | -------: |
| ours_7b     | **71.2** [68.0, 74.5] |     40.3 |
| gpt-4o      |              **71.2** |        – |
| qwen 50% #1 |     60.0 [55.1, 64.9] | **45.0** |
"""

LATEX_CI_ROW = r"ours\_7b & \textbf{71.2} {\scriptsize [68.0, 74.5]} & 40.3 \\"

CSV_CI = """\
Run,Acc,Acc low,Acc high,mIoU,mIoU low,mIoU high
ours_7b,71.2,68.0,74.5,40.3,,
gpt-4o,71.2,,,,,
qwen 50% #1,60.0,55.1,64.9,45.0,,
"""


def test_confidence_intervals():
    assert format_table(ROWS, COLUMNS[:2], "md", ci=True) == MD_CI
    assert LATEX_CI_ROW in format_table(ROWS, COLUMNS[:2], "latex", ci=True).splitlines()
    assert format_table(ROWS, COLUMNS[:2], "csv", ci=True) == CSV_CI
    # without ci=True a CI triple shows its value only
    assert format_table(ROWS, COLUMNS[:2], "md").splitlines()[2] == "| ours_7b     | **71.2** |     40.3 |"


MD_DELTA = """\
| Run         |      Acc | mIoU |       J&F | TFLOPs |
| :---------- | -------: | ---: | --------: | -----: |
| ours_7b     | **+0.1** |    – |     +5.55 |      – |
| gpt-4o      | **71.2** |    – |     50.00 |      – |
| qwen 50% #1 |    -11.2 |    – | **+5.56** |      – |
"""


def test_delta_against_a_base_row():
    # ours - gpt: 71.24 - 71.16 = +0.08 -> +0.1; qwen: 60.0 - 71.16 = -11.16 -> -11.2; the base has no
    # mIoU / TFLOPs so those deltas are missing; bold still marks the best absolute values
    assert format_table(ROWS, COLUMNS[:4], "md", delta="gpt-4o") == MD_DELTA
    latex = format_table(ROWS, COLUMNS[:1], "latex", delta="gpt-4o").splitlines()
    assert latex[4:7] == [
        r"ours\_7b & \textbf{+0.1} \\",
        r"gpt-4o & \textbf{71.2} \\",
        r"qwen 50\% \#1 & -11.2 \\",
    ]
    assert format_table(ROWS, COLUMNS[:1], "csv", delta="ours_7b") == (
        "Run,Acc\nours_7b,71.2\ngpt-4o,-0.1\nqwen 50% #1,-11.2\n"
    )
    # a zero difference is +0.0, never -0.0
    rows = [("a", {"x": 1.0}), ("b", {"x": 1.0 - 1e-9})]
    assert format_table(rows, [Column("x")], "csv", delta="a") == "Run,x\na,1.0\nb,+0.0\n"
    with pytest.raises(ValueError, match="delta base 'nope' is not one of the rows"):
        format_table(ROWS, COLUMNS, "md", delta="nope")
    with pytest.raises(ValueError, match="do not combine"):
        format_table(ROWS, COLUMNS, "md", delta="gpt-4o", ci=True)


CATEGORIES = {
    "indoor": [("a_1", {"acc": 50.0, "score": 1.25}), ("b", {"acc": 40.0, "score": 1.75})],
    "outdoor & more": [("a_1", {"acc": 30.0}), ("b", {"acc": 35.0, "score": 0.5})],
}
COLS2 = [Column("acc", "Acc"), Column("score", "Score", digits=2)]

MD_CATEGORIES = """\
**indoor**

| Run |      Acc |    Score |
| :-- | -------: | -------: |
| a_1 | **50.0** |     1.25 |
| b   |     40.0 | **1.75** |

**outdoor & more**

| Run |      Acc |    Score |
| :-- | -------: | -------: |
| a_1 |     30.0 |        – |
| b   | **35.0** | **0.50** |
"""

LATEX_CATEGORIES = r"""\begin{tabular}{lrr}
\toprule
Run & Acc & Score \\
\midrule
\multicolumn{3}{l}{\textit{indoor}} \\
a\_1 & \textbf{50.0} & 1.25 \\
b & 40.0 & \textbf{1.75} \\
\midrule
\multicolumn{3}{l}{\textit{outdoor \& more}} \\
a\_1 & 30.0 & -- \\
b & \textbf{35.0} & \textbf{0.50} \\
\bottomrule
\end{tabular}
"""

CSV_CATEGORIES = """\
Category,Run,Acc,Score
indoor,a_1,50.0,1.25
indoor,b,40.0,1.75
outdoor & more,a_1,30.0,
outdoor & more,b,35.0,0.50
"""


def test_per_category_sub_tables():
    # best values are per category: a_1 leads indoor accuracy, b leads outdoor
    assert format_category_tables(CATEGORIES, COLS2, "md") == MD_CATEGORIES
    assert format_category_tables(CATEGORIES, COLS2, "latex") == LATEX_CATEGORIES
    assert format_category_tables(CATEGORIES, COLS2, "csv") == CSV_CATEGORIES
    delta = format_category_tables(CATEGORIES, COLS2[:1], "csv", delta="b")
    assert (
        delta
        == "Category,Run,Acc\nindoor,a_1,+10.0\nindoor,b,40.0\noutdoor & more,a_1,-5.0\noutdoor & more,b,35.0\n"
    )


def test_bold_rules():
    # lower is better, ties after rounding all bold, a single row is its own best, an empty column bolds nothing
    rows = [("a", {"err": 0.123, "x": 5.0}), ("b", {"err": 0.118}), ("c", {"err": 0.2})]
    md = format_table(rows, [Column("err", better="lower", digits=1), Column("x"), Column("y")], "md")
    assert md.splitlines()[2:] == [
        "| a   | **0.1** | **5.0** |   – |",
        "| b   | **0.1** |       – |   – |",
        "| c   |     0.2 |       – |   – |",
    ]
    md = format_table(rows, [Column("err", better="lower", digits=3)], "md")
    assert [line.split("|")[2].strip() for line in md.splitlines()[2:]] == ["0.123", "**0.118**", "0.200"]


def test_escaping_and_errors():
    assert latex_escape(r"a_b 100% & #1 $x$ {y} ~ ^ \z") == (
        r"a\_b 100\% \& \#1 \$x\$ \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{}z"
    )
    assert format_table([("a|b", {"x": 1})], [Column("x")], "md").splitlines()[2] == r"| a\|b | **1.0** |"
    with pytest.raises(ValueError, match="unknown table format 'html'"):
        format_table(ROWS, COLUMNS, "html")
    with pytest.raises(ValueError, match="better must be"):
        Column("x", better="max")
    with pytest.raises(ValueError, match=r"\(value, low, high\)"):
        format_table([("a", {"x": (1.0, 2.0)})], [Column("x")], "md")
