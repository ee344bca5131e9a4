"""Every recognizer: values it must find, and look-alikes it must leave alone, in Chinese and
English text. Expected spans are the exact surface strings a user would see redacted."""

from __future__ import annotations

import pytest

from tests.pii.conftest import found

pytestmark = pytest.mark.usefixtures("analyzer")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # mainland mobiles in every common layout, and landlines
        ("客户电话13812345678请回电", ("PHONE_NUMBER", "13812345678")),
        ("手机：138 1234 5678。", ("PHONE_NUMBER", "138 1234 5678")),
        ("联系+86-138-1234-5678谢谢", ("PHONE_NUMBER", "+86-138-1234-5678")),
        ("号码（+86）15912345678", ("PHONE_NUMBER", "（+86）15912345678")),
        ("座机010-62345678转人工", ("PHONE_NUMBER", "010-62345678")),
        ("门店电话(0755)86001234", ("PHONE_NUMBER", "(0755)86001234")),
        ("全角号码１３８１２３４５６７８", ("PHONE_NUMBER", "１３８１２３４５６７８")),
        ("Call me at +86 139 8765 4321 please", ("PHONE_NUMBER", "+86 139 8765 4321")),
        ("Reach me on (415) 555-2671 tonight", ("PHONE_NUMBER", "(415) 555-2671")),
    ],
)
def test_phone_numbers_found(text, expected):
    assert expected in found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证号11010519491231002X，", ("CN_RESIDENT_ID", "11010519491231002X")),
        ("证件:11010519491231002x", ("CN_RESIDENT_ID", "11010519491231002x")),
        ("Resident ID 44030519900101123X on file", ("CN_RESIDENT_ID", "44030519900101123X")),
        ("护照号E12345678，出境用", ("CN_PASSPORT", "E12345678")),
        ("passport EA1234567 verified", ("CN_PASSPORT", "EA1234567")),
        ("退款到银行卡6222021234567890128", ("BANK_CARD", "6222021234567890128")),
        ("card 4111 1111 1111 1111 charged", ("BANK_CARD", "4111 1111 1111 1111")),
        ("Amex 378282246310005 on file", ("BANK_CARD", "378282246310005")),
        ("邮箱Zhang.Wei@163.com收不到", ("EMAIL_ADDRESS", "Zhang.Wei@163.com")),
        ("email john_smith+rx@mail.pku.edu.cn now", ("EMAIL_ADDRESS", "john_smith+rx@mail.pku.edu.cn")),
        ("登录IP：114.88.21.7，异常", ("IP_ADDRESS", "114.88.21.7")),
        ("signed in from 2001:db8::8a2e:370:7334 today", ("IP_ADDRESS", "2001:db8::8a2e:370:7334")),
        ("收货地址：浙江省杭州市西湖区文三路398号3栋2单元501室，谢谢",
         ("LOCATION", "浙江省杭州市西湖区文三路398号3栋2单元501室")),
        ("送到上海市浦东新区张江路88号", ("LOCATION", "上海市浦东新区张江路88号")),
        ("Ship to 1200 Market Street, Apt 4B, San Francisco, CA 94103 asap",
         ("LOCATION", "1200 Market Street, Apt 4B, San Francisco, CA 94103")),
    ],
)
def test_identifiers_found(text, expected):
    assert expected in found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("患者张伟今天复诊", "张伟"),           # context word, name cut at a word boundary
        ("收件人：欧阳娜娜，放门口", "欧阳娜娜"),  # compound surname
        ("请找欧阳女士签收", "欧阳女士"),          # compound surname with honorific
        ("李女士反映包装破损", "李女士"),          # honorific
        ("家属王秀英代取药品", "王秀英"),
        ("我是刘建国，订单没到", "刘建国"),
        ("Dear Mr. Thompson, your refill is ready", "Thompson"),
        ("My name is Olivia Parker and I need help", "Olivia Parker"),
        ("Patient Wang Fang reported dizziness", "Wang Fang"),
        ("Hi客服，我是张伟，email有问题", "张伟"),
    ],
)
def test_person_names_found(text, expected):
    assert ("PERSON", expected) in found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("患者有高血压病史，服用二甲双胍缓释片", ["高血压", "二甲双胍缓释片"]),
        ("诊断：2型糖尿病；阿托伐他汀钙片每日一次", ["2型糖尿病", "阿托伐他汀钙片"]),
        ("history of hypertension, taking metformin daily", ["hypertension", "metformin"]),
        ("switched to valsartan for her asthma", ["valsartan", "asthma"]),
        # from the drug-named-entity-recognition dictionary, not our lexicon or INN stems
        ("Dispensed metoclopramide and Prednisolone today", ["metoclopramide", "Prednisolone"]),
        ("Please order more water, tablets and cotton pads", []),
        # ICD-10-CM names (cdp/pii/lexicon/en_diagnoses.txt): no suffix rule or hand list has them
        ("Flare-up of rosacea and sciatica again", ["rosacea", "sciatica"]),
        ("She has seborrheic dermatitis and fatty liver", ["seborrheic dermatitis", "fatty liver"]),
        ("Asked about cream for hemorrhoids and pemphigoid", ["hemorrhoids", "pemphigoid"]),
        # names and everyday words that ICD also uses are left alone
        ("Amelia Hand asked about the scar on her hand", []),
        ("Tracked insertions and deletions in the order log", []),
        ("Complaint: received an abnormal product, the seal was broken", []),
        # CMeKG names (cdp/pii/lexicon/zh_health_terms.txt): a medicine named after a
        # person, and a generic name written without its dosage form
        ("她有痔疮，想买马应龙麝香痔疮膏", ["痔疮", "马应龙麝香痔疮膏"]),
        ("有没有祛痘的推荐 阿达帕林用了脸好干", ["阿达帕林"]),
        # a two-character disease only as a whole word: 天花 is smallpox, 天花板 a ceiling
        ("他小时候得过天花", ["天花"]),
        ("客厅天花板漏水了", []),
        # foods and chemicals the graph names as a medicine's stem (猕猴桃颗粒) stay words
        ("早餐吃了猕猴桃和无花果，喝了点葡萄糖水", []),
    ],
)
def test_health_terms_found(text, expected):
    got = [v for t, v in found(text) if t == "HEALTH_TERM"]
    assert got == expected


@pytest.mark.parametrize("script", ["build_en_diagnoses.py", "build_zh_health_terms.py"])
def test_the_committed_health_vocabulary_is_what_its_script_builds(script):
    """en_diagnoses.txt and zh_health_terms.txt are generated: a hand edit, or a new release
    of the pinned source package, shows here rather than drifting silently."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, f"scripts/{script}", "--check"], cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


# ---- look-alikes: business references that must never be flagged ---------------------

@pytest.mark.parametrize(
    "text",
    [
        "订单号JD1234567890123已发货",
        "订单号：202403151234567890，请核对",     # 18 digits, looks like an ID number
        "订单13812345678的药品",                  # an order number shaped like a mobile
        "快递单号SF1234567890123，运单号75123456789012",
        "EMS单号EA123456789CN已签收",              # shaped like a passport number
        "国药准字H20051234，批号20240315",
        "批号B2304117，生产日期2024年3月15日",
        "国药准字Z44020211，有效期至2026-03-01",
        "单价¥35.50，共￥71.00元，合计128块",
        "客服热线400-820-8820，或拨打4008208820",
        "下单时间2024/3/15 14:30，发货时间3月16号",
        "维生素C泡腾片和医用外科口罩各一盒",
    ],
)
def test_chinese_lookalikes_not_flagged(text):
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Your order 1234567890123456 ships on 2024-03-15.",
        "Tracking number SF1234567890123, waybill 75123456789012.",
        "Batch B2304117, approval number H20051234, lot 2403151234.",
        "You were charged $35.50 and RMB 71.00 on March 15, 2024.",
        "Our hotline 400-820-8820 is open 24/7.",
        "Invoice 4111111111111111 was paid.",   # Luhn-valid, but introduced as an invoice
        "Version 10.2.3.4 of the app is out.",
        "Please bring vitamin C tablets and a thermometer.",
    ],
)
def test_english_lookalikes_not_flagged(text):
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "absent_type"),
    [
        ("身份证号11010519491231002Y", "CN_RESIDENT_ID"),       # bad check character
        ("身份证号110105199913310020", "CN_RESIDENT_ID"),       # month 13
        ("银行卡6222021234567890129", "BANK_CARD"),              # Luhn fails
        ("card 9999 1111 1111 1116", "BANK_CARD"),               # Luhn ok, no issuer
        ("电话12345678901", "PHONE_NUMBER"),                     # not a valid mobile range
        ("IP 999.1.1.1 invalid", "IP_ADDRESS"),
        ("mail me at someone@localhost", "EMAIL_ADDRESS"),       # no public suffix
        ("编号E12345678", "CN_PASSPORT"),                         # reference number, no context
        ("他说谢谢大家，常常来", "PERSON"),
        ("冷链药品请尽快签收，方便的话", "PERSON"),
        ("The Customer Service Team will call", "PERSON"),
        ("北京欢迎你", "LOCATION"),                               # a city alone is no address
    ],
)
def test_invalid_candidates_rejected(text, absent_type):
    assert absent_type not in [t for t, _ in found(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证110105 19491231 002X请核对", ("CN_RESIDENT_ID", "110105 19491231 002X")),
        ("call 415.555.2671 after six", ("PHONE_NUMBER", "415.555.2671")),
        ("我爸龚珂有高血压", ("PERSON", "龚珂")),            # kinship word, particle after
        ("帮祁嘉懿登记一下", ("PERSON", "祁嘉懿")),           # jieba glued 帮 to the name
        ("Spoke with Esme Brennan today", ("PERSON", "Esme Brennan")),
        ("500 W 2nd Street, Austin, TX 78701", ("LOCATION", "500 W 2nd Street, Austin, TX 78701")),
        ("诊断：缺铁性贫血；", ("HEALTH_TERM", "缺铁性贫血")),
        ("用药：格列吡嗪控释片，", ("HEALTH_TERM", "格列吡嗪控释片")),
        ("history of chronic sinusitis", ("HEALTH_TERM", "chronic sinusitis")),
    ],
)
def test_layouts_and_word_formation(text, expected):
    assert expected in found(text)


def test_presidio_does_not_log_the_text(caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        found("联系电话13812345678，患者张伟")
    assert "13812345678" not in caplog.text and "张伟" not in caplog.text
