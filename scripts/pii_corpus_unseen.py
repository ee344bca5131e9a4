"""A third PII corpus split, measured once and never tuned on.

The held-out split (``scripts/pii_corpus_heldout.py``) guided one round of engine fixes, so
its figures are no longer those of unseen text. This split was written afterwards (27 Nov
2026), run through the engine once for BENCHMARKS.md, and is not to be used for tuning:
new templates (prescriptions, paediatric notes, chat transcripts, billing), new name, drug
and diagnosis pools, and the value formats of the other two splits.

    python scripts/bench/pii_bench.py --corpus unseen --count 1500 --seed 23
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from scripts.pii_corpus import Sample, g_passport, g_waybill, render_with
from scripts.pii_corpus_heldout import (
    LOOKALIKES,
    h_card,
    h_email,
    h_ephone,
    h_ip,
    h_phone,
    h_rid,
)

U_SURNAMES = "万阎薛钟魏蔡丁沈姚卢崔谭廖范汪贾邹熊秦江尹"
U_COMPOUND = ["欧阳", "诸葛", "慕容", "令狐"]
U_GIVEN = ["婉清", "泽宇", "嘉禾", "晓彤", "昕", "煜", "瑾", "宸", "珺", "屹", "雅琴", "国栋",
           "丽娟", "海涛", "明辉", "淑芬", "少华", "志刚", "倩", "楠"]
U_HON = ["先生", "女士", "阿姨", "大姐", "老师"]
U_EN = [("Niamh", "Gallagher"), ("Tobias", "Reinholt"), ("Farah", "Siddiqui"),
        ("Eamon", "Kelleher"), ("Priyanka", "Desai"), ("Mateus", "Silva"),
        ("Yusra", "Haddadin"), ("Wren", "Calloway"), ("Jiang", "Wanqing"), ("Xu", "Zihan")]
U_DRUGS_ZH = ["坎地沙坦酯片", "瑞格列奈片", "利格列汀片", "艾塞那肽注射液", "雷贝拉唑钠肠溶片",
              "孟鲁司特钠咀嚼片", "氯化钾缓释片", "多潘立酮片", "枸橼酸莫沙必利片", "复方甘草片"]
U_DX_ZH = ["焦虑障碍", "慢性咽炎", "膝骨关节炎", "肾病综合征", "甲状腺结节", "支气管扩张",
           "神经性皮炎", "过敏性紫癜", "良性前列腺增生", "手足口病"]
U_DRUGS_EN = ["ondansetron", "clonazepam", "topiramate", "metoclopramide", "prednisolone",
              "cephalexin", "nitrofurantoin", "propranolol", "finerenone", "buspirone"]
U_DX_EN = ["plantar fasciitis", "diverticulitis", "hay fever", "Graves' disease", "tinnitus",
           "lupus", "peripheral neuropathy", "bipolar disorder", "kidney stones", "acne"]
U_ADDR_ZH = ["江苏省苏州市吴中区东吴北路{n}号", "四川省成都市锦江区春熙路{n}号{m}栋",
             "北京市海淀区中关村大街{n}号院{m}号楼", "浙江省宁波市鄞州区天童南路{n}号",
             "湖北省武汉市洪山区珞喻路{n}号", "福建省福州市鼓楼区五四路{n}号{m}室"]
U_ADDR_EN = ["{n} Harbour Road, Wan Chai, Hong Kong", "{n} Lakeshore Drive, Chicago, IL 60611",
             "{n} King Street, Toronto", "Apt {m}, {n} Elm Street, Springfield, IL 62704",
             "{n} Nathan Road, Kowloon", "{n} Oxford Street, London W1D 1BS"]


def u_name(r):
    s = r.choice(U_COMPOUND) if r.random() < 0.12 else r.choice(U_SURNAMES)
    return s + r.choice(U_GIVEN), "PERSON"


def u_ename(r):
    a, b = r.choice(U_EN)
    return f"{a} {b}", "PERSON"


def _fmt(pool, r):
    return r.choice(pool).format(n=r.randint(1, 999), m=r.randint(1, 30))


U_SLOTS = {
    **LOOKALIKES,
    "name": u_name, "ename": u_ename,
    "hon": lambda r: (r.choice(U_SURNAMES) + r.choice(U_HON), "PERSON"),
    "phone": h_phone, "ephone": h_ephone, "rid": h_rid, "card": h_card, "email": h_email,
    "ip": h_ip, "passport": g_passport, "waybill": g_waybill,
    "addr": lambda r: (_fmt(U_ADDR_ZH, r), "LOCATION"),
    "eaddr": lambda r: (_fmt(U_ADDR_EN, r), "LOCATION"),
    "drug": lambda r: (r.choice(U_DRUGS_ZH), "HEALTH_TERM"),
    "dx": lambda r: (r.choice(U_DX_ZH), "HEALTH_TERM"),
    "edrug": lambda r: (r.choice(U_DRUGS_EN), "HEALTH_TERM"),
    "edx": lambda r: (r.choice(U_DX_EN), "HEALTH_TERM"),
    "age": lambda r: (str(r.randint(2, 90)), None),
}

U_ZH = [
    "亲，我老公{name}的{drug}能寄到{addr}吗？他手机{phone}。",
    "处方单：姓名{name} 性别男 年龄{age} 诊断{dx} Rp：{drug} 医师签名：{name}",
    "【售后】{hon}反馈收到的{drug}批号{lot}与订单{order}不符，要求换货，运单{waybill}。",
    "患儿{name}，{age}岁，家长{name}代诉：{dx}三天，已用{drug}。",
    "请把发票寄给{name}，邮箱{email}，开票金额{price}，发票号{invoice}。",
    "身份证{rid}的会员绑定的银行卡{card}已解绑，客服热线{hotline}。",
    "APP登录异常：设备IP {ip}，账号{phone}，时间{date} {time}。",
    "护照{passport}的旅客{name}咨询{drug}能否携带出境。",
]
U_EN_T = [
    "Patient {ename} (seen {date}) presented with {edx}; started {edrug}.",
    "Please update the billing address for {ename} to {eaddr}. Coupon {coupon} applied.",
    "Chat transcript - agent: how can I help? customer: this is {ename}, my card {card} was "
    "declined for {edrug}.",
    "Dispensed {edrug} to {ename}; counselled on {edx}. Call {ephone} with questions.",
    "Account {email} logged in from {ip}; one-time code {pickup} sent at {time}.",
    "ID verification: passport {passport}, Chinese ID {rid}, name {ename}.",
]


def generate_unseen(count: int = 1500, seed: int = 23) -> Iterator[Sample]:
    """Yield ``count`` deterministic samples of the unseen split (about 55% Chinese)."""
    rng = random.Random(seed)
    for i in range(count):
        if rng.random() < 0.55:
            language, template = "zh", rng.choice(U_ZH)
        else:
            language, template = "en", rng.choice(U_EN_T)
        text, entities = render_with(template, rng, U_SLOTS)
        yield Sample(id=f"u{i:06d}", text=text, language=language, entities=entities)
