"""The learners' questions: kept in the lesson modules, checked, and hidden in the notebooks."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

import slowfast_lab as sfl
from slowfast_lab.lessons import common

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
MODULES = {
    1: "l01_sampling",
    2: "l02_two_pathways",
    3: "l03_laterals",
    4: "l04_slow_only",
    5: "l05_explorer",
    6: "l06_attention",
    7: "l07_real_model",
    8: "l08_own_video",
    9: "l09_who_does_what",
}
# A wrong response for every question with a check (a likely mistake where there is one).
WRONG = {
    (1, "last_slow_frame"): "64",
    (1, "slow_frames_per_second"): "30",
    (1, "pyslowfast_last_slow_frame"): "56",
    (1, "wheel_degrees"): "45",
    (2, "fast_res5_frames"): "4",
    (2, "first_temporal_kernel"): "res2",
    (2, "fast_share_8x8"): "20",
    (3, "slow_input_changes_fast"): "res3",
    (3, "fuse3_channels"): "64",
    (3, "time_to_channel_frame"): "5",
    (4, "motion_chance"): "50",
    (4, "slowfast_extra_compute"): "10",
    (5, "halve_beta"): "4",  # the old answer: the stem shrinks only linearly with beta
    (5, "valid_alphas"): "1, 2, 3, 4",
    (5, "fast_share_of_time"): "less",
    (6, "clockwise_pathway"): "slow",
    (6, "localisation_ratio"): "object",
    (6, "randomised_maps"): "yes",
    (7, "views_per_video"): "60",
    (7, "fast_share_8x8"): "20",
    (7, "tera_macs"): "5",
    (7, "crop_doubling"): "2",
    (3, "scenes_colour_guess"): "1/3",
    (8, "finetune_steps"): "20",  # rounding up the last batch, or counting the held-out clips
    (9, "colour_pathway"): "fast",
    (9, "dilated_map"): "8",  # the strided res5's map
    (9, "boxes_cost"): "yes",
    (9, "comparable"): "yes",
}


def questions(lesson: int) -> dict[str, common.Question]:
    return importlib.import_module(f"slowfast_lab.lessons.{MODULES[lesson]}").QUESTIONS


def all_questions() -> list[tuple[int, str, common.Question]]:
    return [(n, key, q) for n in MODULES for key, q in questions(n).items()]


def notebook_code(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize(("lesson", "key"), [(n, k) for n, k, q in all_questions() if q.check])
def test_check_accepts_the_solution_and_rejects_a_mistake(lesson: int, key: str) -> None:
    q = questions(lesson)[key]
    assert q.grade(q.solution) == "Correct!", f"{key}: the check refuses its own solution"
    assert q.grade(WRONG[lesson, key]).startswith("Not quite"), f"{key} accepts a wrong answer"


def test_every_checked_question_has_a_wrong_example() -> None:
    checked = {(n, k) for n, k, q in all_questions() if q.check}
    assert checked == set(WRONG), "add a wrong response to WRONG for every new checked question"


def test_halving_beta_shrinks_the_fast_pathway_by_the_counted_ratio() -> None:
    from slowfast_lab.lessons import l05_explorer as L

    h = L.beta_halving()
    before = sfl.complexity("slowfast_4x16_r50").by_part["fast"]
    after = sfl.complexity("slowfast_4x16_r50", beta_inv=16).by_part["fast"]
    assert h["ratio"] == pytest.approx(before / after) and 2.5 < h["ratio"] < 3.0
    # the stem halves and everything else quarters: that is the whole ratio
    assert 1 / h["ratio"] == pytest.approx(h["stem_share"] / 2 + (1 - h["stem_share"]) / 4)
    assert f"{h['fast_before']:.2f} -> {h['fast_after']:.2f}" in L.QUESTIONS["halve_beta"].answer


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("0*.ipynb")), ids=lambda p: p.name)
def test_notebooks_show_questions_not_answers(path: Path) -> None:
    lesson = int(path.name[:2])
    code = notebook_code(path)
    source = "\n".join(code)
    assert "Question(" not in source, f"{path.name} defines a question in a cell: move it to L"
    for n, key, q in all_questions():
        start = q.answer[:40]
        assert start not in source, f"{path.name} shows the answer of {n}:{key}"
    used = re.findall(r'L\.QUESTIONS\["(\w+)"\]', source)
    assert used and set(used) <= set(questions(lesson)), f"{path.name} asks unknown questions"
    assert len(used) == len(set(used)) == len(questions(lesson)), "each question asked once"
    for cell in code:
        if "QUESTIONS" in cell:
            assert cell.strip().count("\n") == 0, f"{path.name}: a question cell is one line"


def test_answer_is_hidden_until_opened() -> None:
    q = common.Question("Which frame?", "Frame 6 < 7.", check=lambda s: s == "6", solution="6")
    page = q.answer_html()
    assert page.startswith('<details class="sfl-answer">') and "<details open" not in page
    assert "<summary>show answer</summary>" in page and "Frame 6 &lt; 7." in page
    with pytest.raises(ValueError, match="solution"):
        common.Question("Which?", "6", check=lambda s: s == "6")


def test_question_widget_checks_in_the_kernel_and_hides_the_answer() -> None:
    """What a learner does in the lab: type, press check, read the feedback (an HTML widget, not
    an Output widget, so headless runs cannot stall on it); the answer stays in a closed
    <details>."""
    from slowfast_lab.lessons import l01_sampling

    q = l01_sampling.QUESTIONS["last_slow_frame"]
    box = q.widget()
    assert "sfl-question" in box._dom_classes
    header, row, answer = box.children
    text, check, feedback = row.children
    assert q.text[:30] in header.value and answer.value == q.answer_html()
    assert "Output" not in {type(w).__name__ for w in (header, *row.children, answer)}
    for response, expected in (("72", "Not quite"), (q.solution, "Correct!")):
        text.value = response
        check.click()
        assert feedback.value.startswith(expected)
    no_check = l01_sampling.QUESTIONS["backwards_spin"].widget()
    assert len(no_check.children) == 2  # the question and its answer: nothing to check
