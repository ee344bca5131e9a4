"""Batched scanning finds exactly what one text at a time finds (issue 15's throughput work).

The name model runs over many texts at once in `cdp pii scan`, `scan_texts` and ingest's
prefetch; those paths must not change a single span or score. And the work the engine does
once (compiled patterns, number metadata) is done when it is built, not in the first scan.
"""

from __future__ import annotations

import json

from click.testing import CliRunner
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.commands import pii
from cdp.pii.models.lac import get_lac
from cdp.pii.scan import candidates, clear_memo, scan_text, scan_texts

# Texts of different lengths holding names: batched together, the shorter ones would be
# padded to the longest.
TEXTS = [
    "黄成阳咨询降压药",
    "患者王建国今天来复诊，家属李秀英陪同，主治医生是张志明。",
    "约翰·史密斯先生和欧阳明辉女士昨天一起来办理了会员卡，经理赵立新接待。",
    "请转告刘德华",
    "收件人陈晓东，电话13812345678，地址广东省深圳市南山区科技园南路18号。",
    "口服二甲双胍每日两次",
    "客服小周回复了孙丽娟的投诉，并由主管郭建华跟进处理，周五前给出结论。",
]


def test_model_batches_give_each_text_its_own_result() -> None:
    lac = get_lac()
    alone = [lac.spans(t) for t in TEXTS]
    assert lac.spans_many(TEXTS) == alone
    assert lac.spans_many(TEXTS, batch=2) == alone
    person = frozenset({"PER"})
    assert lac.spans_many(TEXTS, only=person) == [lac.spans(t, only=person) for t in TEXTS]


def test_scan_texts_and_the_scan_command_equal_single_scans(analyzer, tmp_path) -> None:
    expected = [scan_text(t) for t in TEXTS]
    assert any(e.type == "PERSON" for found in expected for e in found)
    clear_memo()
    assert scan_texts(TEXTS) == expected
    clear_memo()
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(TEXTS)), encoding="utf-8")
    result = CliRunner().invoke(pii, ["scan", "--input", str(inp), "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [rec["entities"] for rec in lines] == [[e.to_dict() for e in found]
                                                 for found in expected]


def test_keywords_computed_on_demand_are_presidios(analyzer) -> None:
    engine = analyzer.nlp_engine
    for text, language in (("患者的护照号是E12345678，请核对。", "zh"),
                           ("Call me at 555-0100, the phone is mine.", "en")):
        artifacts = engine.process_text(text, language)
        assert "keywords" not in vars(artifacts)  # not computed until read
        assert artifacts.keywords == NlpArtifacts.set_keywords(engine, artifacts.lemmas,
                                                                language)


def test_context_words_still_raise_scores(analyzer) -> None:
    # a passport number alone scores under the default threshold; 护照 before it lifts it
    bare = {e.type: e.score for e in candidates("号码E12345678已登记", "zh")}
    lifted = {e.type: e.score for e in candidates("护照E12345678已登记", "zh")}
    assert bare["CN_PASSPORT"] == 0.4
    assert lifted["CN_PASSPORT"] == 0.75


def test_one_time_work_is_done_when_the_engine_is_built(monkeypatch) -> None:
    from cdp.pii.recognizers import address

    monkeypatch.setattr(address, "_zh_address", None)
    address.AddressRecognizer("zh")  # what build_analyzer does, once per language
    assert address._zh_address is not None  # the division regex, compiled by load()


CONTEXT_TEXTS = [
    ("护照E12345678已登记，联系电话13812345678，邮箱li.na@example.com", "zh"),
    ("身份证号11010519850412703X，卡号6222021234567890128，退款到这张卡", "zh"),
    ("Passport EV6792908; call 415-555-0134 or mail ann@corp.com from 10.2.3.4", "en"),
    ("收货地址：广东省深圳市南山区科技园南路18号3栋201室，收件人王伟", "zh"),
    ("order 13812345678 shipped; phone 13987654321", "en"),
]


def test_context_enhancement_scores_are_presidios(analyzer) -> None:
    import copy

    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    ours = analyzer.context_aware_enhancer
    stock = LemmaContextAwareEnhancer(
        context_similarity_factor=ours.context_similarity_factor,
        min_score_with_context_similarity=ours.min_score_with_context_similarity,
        context_prefix_count=ours.context_prefix_count,
        context_suffix_count=ours.context_suffix_count,
    )
    raised = 0
    for text, language in CONTEXT_TEXTS:
        artifacts = analyzer.nlp_engine.process_text(text, language)
        recognizers = analyzer.registry.get_recognizers(language=language, all_fields=True)
        raw = [r for rec in recognizers
               for r in rec.analyze(text=text, entities=[], nlp_artifacts=artifacts) or []]
        for start in range(len(text)):  # the words around a match at any position
            assert (sorted(ours._extract_surrounding_words(artifacts, "", start))
                    == sorted(stock._extract_surrounding_words(artifacts, "", start)))

        def key(results):
            return sorted((r.entity_type, r.start, r.end, r.score) for r in results)

        expected = key(stock.enhance_using_context(text, copy.deepcopy(raw), artifacts,
                                                   recognizers))
        assert key(ours.enhance_using_context(text, copy.deepcopy(raw), artifacts,
                                              recognizers)) == expected
        before = {(r.entity_type, r.start, r.end): r.score for r in raw}
        raised += sum(score > before[(t, s, e)] for t, s, e, score in expected)
    assert raised  # some context word did raise a score
