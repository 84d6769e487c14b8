"""Answer quality on the labelled question set, plus the building blocks (synonyms, typos, FAQ, index cache)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.policy_eval import evaluate, load_questions, plain
from service.policy import search as policy_search
from service.policy.faq import create_faq
from service.policy.importer import ensure_seed, import_document
from service.policy.search import correct_homophones, current_index, expand_synonyms, fix_homophones, search

QUESTIONS = load_questions(Path(__file__).parent / "data" / "policy_questions.json")


@pytest.fixture
def seeded(session):
    ensure_seed(session)
    return session


def test_question_set_is_big_and_points_at_real_clauses(seeded):
    entries = current_index(seeded).entries
    paths = {e.path for e in entries}
    assert len(QUESTIONS["on_topic"]) >= 200 and len(QUESTIONS["off_topic_plausible"]) >= 60
    assert len(QUESTIONS["follow_ups"]) >= 30
    bodies = [plain(e.heading + e.text) for e in entries]
    for item in QUESTIONS["on_topic"] + QUESTIONS["follow_ups"]:
        assert item["expected"] and set(item["expected"]) <= paths, item
        assert all(any(plain(lead) in body for body in bodies) for lead in item["lead"]), item
    asked = {p for item in QUESTIONS["on_topic"] for p in item["expected"]}
    assert {e.path for e in entries if e.text} <= asked  # every clause with a text is asked about
    texts = {e.text for e in entries}
    assert not any(item["q"] in t for t in texts for item in QUESTIONS["on_topic"] if len(item["q"]) > 12)


def test_accuracy_targets(seeded):
    """The issue's targets: the answering sentence leads, off-topic questions fall back, follow-ups resolve,
    answers stay short."""
    ev = evaluate(current_index(seeded), QUESTIONS)
    report = "\n".join(ev.misses)
    assert ev.lead_rate >= 0.92, report
    assert ev.off_rate >= 0.95, report
    assert ev.follow_rate >= 0.85, report
    assert ev.median_length <= 150, report


def test_synonyms_and_homophones_map_to_policy_words():
    assert "连队" in expand_synonyms("当兵的要学什么")
    assert "宗教活动场所" in expand_synonyms("清真寺要挂宣传栏吗")
    assert "七进" in expand_synonyms("民族团结进步创建要进哪些地方")  # asks for the seven places
    assert "社区" in correct_homophones("进社曲的要求")
    assert "社区" not in correct_homophones("社保卡丢了")
    assert fix_homophones("宗教活动厂所要干啥") == "宗教活动场所要干啥"
    assert fix_homophones("民族事务要依法治理") == "民族事务要依法治理"  # a real word is never "fixed"
    assert fix_homophones("公司里怎么搞民族团结") == "公司里怎么搞民族团结"  # … nor cut in two (司里 → 寺里)
    assert fix_homophones("民族团接进步示范企业") == "民族团结进步示范企业"
    assert "学习" in expand_synonyms("一年学几次") and "学习" not in expand_synonyms("学校要做什么")


def test_faq_wins_over_clauses(seeded):
    create_faq(seeded, ["七进活动办公室电话是多少", "七进办电话"], "七进办电话：0000-1234567")
    result = search(seeded, "七进活动办公室的电话是多少？")
    assert result.faq is not None and result.answered
    assert search(seeded, "部队怎么搞民族团结").faq is None


def test_index_is_cached_until_a_new_version(seeded):
    first = current_index(seeded)
    assert current_index(seeded) is first
    text = policy_search.load_entries(seeded)
    import_document(seeded, "另一个文件", "一、石榴籽专项\n（一）石榴籽家园。建设石榴籽家园。\n", "other.txt")
    second = current_index(seeded)
    assert second is not first and len(second.entries) == len(text) + 2
    assert search(seeded, "石榴籽家园怎么建").best.entry.path == "一、石榴籽专项 › (一)石榴籽家园"
