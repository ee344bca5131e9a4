"""A held-out split of the PII corpus: new templates and value pools the recognizers were
never tuned on.

Why it exists: the main corpus (``scripts/pii_corpus.py``) shares most of its name, drug
and diagnosis pools with the recognizers' lexicons, and the engine scores 1.000 on it,
which says little about text it has not seen. These templates and pools were written in
one sitting (27 Nov 2026) BEFORE being run through the engine, and draw on things the
lexicons do not hold: given-name characters outside the name list, drugs and diagnoses
absent from the health lexicon, other provinces and address shapes (rural villages,
autonomous regions, road sections), UK-style English addresses, names introduced by words
the recognizer has no rule for (妈妈, 提交人, spoke with), full-width digits, spaced ID
numbers, IP:port, phone extensions, and new look-alikes (invoice numbers, EAN barcodes,
pickup codes, staff numbers, coupon codes, times).

Offsets are exact, generation is deterministic per seed, and the value generators of the
main corpus are reused only where the format itself is the point (ID check digits, Luhn).

    python scripts/pii_corpus_heldout.py --count 2000 --seed 11 --output var/pii_heldout.jsonl
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator

from scripts.pii_corpus import (
    Sample,
    _digits,
    _luhn_complete,
    g_email,
    g_passport,
    mobile,
    render_with,
    resident_id,
    write_samples,
)

H_SURNAMES = "王李张刘陈杨黄赵吴周徐孙伍聂蒲晏骆温祁甘卢郝龚邵覃莫殷詹"
H_COMPOUND = ["欧阳", "端木", "南宫", "司徒", "上官"]
H_GIVEN = ["梓琛", "玥彤", "昊天", "可馨", "骁", "语嫣", "沐辰", "若岚", "欣妍", "子墨", "一诺",
           "思琪", "宏伟", "秀梅", "德明", "桂芝", "春生", "金凤", "小红", "大勇", "茗", "筠",
           "岚", "珂", "澍", "嘉懿", "晟睿", "芃芃", "书瑶", "景行"]
H_HONORIFICS = ["师傅", "经理", "大夫", "护士", "老板", "阿姨", "先生", "女士"]

H_DRUGS_ZH = ["格列吡嗪控释片", "奥司他韦胶囊", "厄贝沙坦氢氯噻嗪片", "普瑞巴林胶囊", "甲硝唑栓",
              "硫酸氢氯吡格雷片", "盐酸二甲双胍片", "苯磺酸左氨氯地平片", "富马酸比索洛尔片",
              "阿法骨化醇软胶囊", "布地奈德鼻喷雾剂", "吡贝地尔缓释片", "螺内酯片", "加巴喷丁胶囊",
              "曲美他嗪缓释片", "替硝唑片"]
H_DX_ZH = ["脂溢性皮炎", "腰椎间盘突出症", "带状疱疹", "高尿酸血症", "慢性荨麻疹", "痔疮",
           "结节性甲状腺肿", "妊娠期高血压", "胆囊炎", "更年期综合征", "缺铁性贫血", "干眼症",
           "幽门螺杆菌感染", "颈椎病", "脑梗死后遗症", "子宫肌瘤"]
H_ADDR_ZH = [
    ("湖南省", "长沙市", ["岳麓区", "雨花区", "开福区"], ["麓山南路", "芙蓉中路二段", "五一大道"]),
    ("河南省", "郑州市", ["金水区", "二七区"], ["花园路", "农业路", "大学路"]),
    ("", "重庆市", ["渝北区", "江北区", "沙坪坝区"], ["新南路", "建新北路", "小龙坎正街"]),
    ("", "天津市", ["南开区", "和平区"], ["鞍山西道", "南京路", "卫津路"]),
    ("广西壮族自治区", "南宁市", ["青秀区", "西乡塘区"], ["民族大道", "大学东路"]),
    ("内蒙古自治区", "呼和浩特市", ["新城区", "赛罕区"], ["新华东街", "大学西街"]),
    ("云南省", "昆明市", ["五华区", "盘龙区"], ["人民中路", "北京路"]),
    ("黑龙江省", "哈尔滨市", ["南岗区", "道里区"], ["西大直街", "中央大街"]),
]
H_RURAL = ["河北省保定市涞水县义安镇北高村", "安徽省六安市霍山县佛子岭镇黄巢寺村",
           "江西省赣州市于都县罗坳镇步前村", "甘肃省天水市秦安县兴国镇南关村"]
H_ESTATES = ["融科东南海", "保利香槟国际", "绿地新都会", "龙湖春森彼岸", "中海国际社区"]

H_EN_FIRST = ["Declan", "Imogen", "Callum", "Esme", "Rhys", "Aurora", "Soren", "Tamsin",
              "Idris", "Marisol", "Kofi", "Anouk", "Thiago", "Saoirse", "Bjorn", "Leilani"]
H_EN_LAST = ["Okafor", "Lindqvist", "Brennan", "Castillo", "Nguyen", "Haddad", "Abernathy",
             "Kovalenko", "Ferreira", "Oyelaran", "Whitfield", "Delacroix", "Mbeki", "Sato"]
H_PINYIN = [("Ouyang", "Mingyu"), ("Nie", "Zihan"), ("Qi", "Yuchen"), ("Gan", "Lulu"),
            ("Wen", "Haoyu"), ("Situ", "Jiayi")]
H_EN_DRUGS = ["gabapentin", "pregabalin", "candesartan", "nebivolol", "spironolactone",
              "linagliptin", "dulaglutide", "tramadol", "hydroxyzine", "mesalamine",
              "oseltamivir", "rizatriptan"]
H_EN_DX = ["fibromyalgia", "sleep apnea", "endometriosis", "celiac disease", "ulcerative colitis",
           "Crohn's disease", "plaque psoriasis", "chronic sinusitis", "peptic ulcer",
           "sciatica", "rosacea", "vertigo"]
H_EN_ADDR = [
    "Flat 2, 14 Baker Street, London NW1 6XE",
    "1600 Pennsylvania Avenue NW, Washington, DC 20500",
    "500 W 2nd Street, Austin, TX 78701",
    "77 Massachusetts Avenue, Cambridge, MA 02139",
    "Unit 5, 88 Queensway, Admiralty, Hong Kong",
    "2150 Shattuck Avenue, Suite 700, Berkeley, CA 94704",
    "Room 1203, Tower 2, 1 Jianguomenwai Avenue, Chaoyang District, Beijing",
    "9 Orchard Road, Singapore 238823",
]


def _pick(rng: random.Random, pool):
    return rng.choice(pool)


def h_name(rng):
    s = rng.choice(H_COMPOUND) if rng.random() < 0.15 else rng.choice(H_SURNAMES)
    return s + rng.choice(H_GIVEN), "PERSON"


def h_hon(rng):
    return rng.choice(H_SURNAMES) + rng.choice(H_HONORIFICS), "PERSON"


def h_ename(rng):
    if rng.random() < 0.25:
        s, g = rng.choice(H_PINYIN)
        return (f"{g} {s}" if rng.random() < 0.5 else f"{s} {g}"), "PERSON"
    return f"{rng.choice(H_EN_FIRST)} {rng.choice(H_EN_LAST)}", "PERSON"


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def h_phone(rng):
    r = rng.random()
    n = mobile(rng)
    if r < 0.25:
        return n.translate(_FULLWIDTH), "PHONE_NUMBER"
    if r < 0.45:
        return f"{n[:3]}-{n[3:7]}-{n[7:]}", "PHONE_NUMBER"
    if r < 0.6:
        return f"+86 (0)21 6{_digits(rng, 3)} {_digits(rng, 4)}", "PHONE_NUMBER"
    if r < 0.75:
        # these four cities have 8-digit subscriber numbers
        return f"0{rng.choice(['731', '371', '23', '22'])}-8{_digits(rng, 7)}", "PHONE_NUMBER"
    return n, "PHONE_NUMBER"


def h_ephone(rng):
    if rng.random() < 0.5:
        return h_phone(rng)
    return f"{rng.choice(['415', '617', '206'])}.{rng.choice('2345678')}{_digits(rng, 2)}." \
           f"{_digits(rng, 4)}", "PHONE_NUMBER"


def h_rid(rng):
    n = resident_id(rng)
    r = rng.random()
    if r < 0.15:
        return f"{n[:6]} {n[6:14]} {n[14:]}", "CN_RESIDENT_ID"
    if r < 0.3 and n.endswith("X"):
        return n[:-1] + "x", "CN_RESIDENT_ID"
    return n, "CN_RESIDENT_ID"


def h_card(rng):
    prefix = rng.choice(["622848", "621226", "622700", "625807", "4392", "5187"])
    # 19 digits only for UnionPay (62...): Visa and Mastercard issue 16 here
    n = _luhn_complete(prefix, rng.choice([16, 19]) if prefix.startswith("62") else 16, rng)
    if len(n) == 19 and rng.random() < 0.5:
        return " ".join(n[i : i + 4] for i in range(0, 19, 4)), "BANK_CARD"
    if len(n) == 16 and rng.random() < 0.4:
        return " ".join(n[i : i + 4] for i in range(0, 16, 4)), "BANK_CARD"
    return n, "BANK_CARD"


def h_email(rng):
    r = rng.random()
    if r < 0.3:
        s, g = rng.choice(H_PINYIN)
        return f"{g.lower()}.{s.lower()}+rx@{rng.choice(['163.com', 'vip.qq.com'])}", "EMAIL_ADDRESS"
    if r < 0.45:
        return f"{rng.choice(H_EN_FIRST).upper()}@{rng.choice(['OUTLOOK.COM', 'Gmail.com'])}", \
            "EMAIL_ADDRESS"
    return g_email(rng)


def h_ip(rng):
    r = rng.random()
    if r < 0.4:
        return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}." \
               f"{rng.randint(1, 254)}", "IP_ADDRESS"
    if r < 0.7:
        return "fe80::" + ":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(4)), "IP_ADDRESS"
    return ":".join(f"{rng.randint(0, 0xFFFF):04x}" for _ in range(8)), "IP_ADDRESS"


def h_addr(rng):
    if rng.random() < 0.25:
        return f"{rng.choice(H_RURAL)}{rng.randint(1, 12)}组{rng.randint(1, 60)}号", "LOCATION"
    prov, city, districts, roads = rng.choice(H_ADDR_ZH)
    s = (prov if rng.random() < 0.8 else "") + city + rng.choice(districts) + rng.choice(roads)
    s += f"{rng.randint(1, 999)}号"
    if rng.random() < 0.5:
        s += f"{rng.choice(H_ESTATES)}{rng.randint(1, 12)}栋{rng.randint(1, 32)}0{rng.randint(1, 4)}"
    return s, "LOCATION"


LOOKALIKES = {
    "invoice": lambda r: ("0" + _digits(r, 11) if r.random() < 0.5 else "2" + _digits(r, 19), None),
    "ean": lambda r: ("69" + _digits(r, 11), None),
    "pickup": lambda r: (_digits(r, 6), None),
    "staff": lambda r: ("8" + _digits(r, 3), None),
    "coupon": lambda r: ("CP" + _digits(r, 10), None),
    "time": lambda r: (f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}", None),
    "hotline": lambda r: (r.choice(["400-820-8820", "400 888 6166", "800-810-1234", "95511"]), None),
    "approval": lambda r: ("国药准字" + r.choice("HZS") + r.choice(["2009", "4402", "1101"])
                           + _digits(r, 4), None),
    "lot": lambda r: (f"LOT {r.randint(22, 26)}{_digits(r, 5)}", None),
    "price": lambda r: (r.choice(["¥1,299.00", "￥36.8", "58元", "$12.50", "RMB 268"]), None),
    "date": lambda r: (r.choice([f"{r.randint(2023, 2026)}年{r.randint(1, 12):02d}月"
                                 f"{r.randint(1, 28):02d}日", f"{r.randint(1, 12)}/{r.randint(1, 28)}",
                                 f"{r.randint(2023, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"]),
                       None),
    "order": lambda r: (r.choice(["", "DD", "MT"]) + _digits(r, 18), None),
}

H_SLOTS = {
    "name": h_name, "hon": h_hon, "ename": h_ename, "phone": h_phone, "ephone": h_ephone,
    "rid": h_rid, "card": h_card, "passport": g_passport, "email": h_email, "ip": h_ip,
    "addr": h_addr, "eaddr": lambda r: (r.choice(H_EN_ADDR), "LOCATION"),
    "drug": lambda r: (r.choice(H_DRUGS_ZH), "HEALTH_TERM"),
    "dx": lambda r: (r.choice(H_DX_ZH), "HEALTH_TERM"),
    "edrug": lambda r: (r.choice(H_EN_DRUGS), "HEALTH_TERM"),
    "edx": lambda r: (r.choice(H_EN_DX), "HEALTH_TERM"),
    **LOOKALIKES,
}

H_ZH_TEMPLATES = [
    "麻烦转告我妈妈{name}，她的{drug}到了，取件码{pickup}，快递柜在小区门口。",
    "提交人：{name}；问题：发票号{invoice}抬头错了，手机{phone}，{time}以后都在。",
    "开方医生：{name}；诊断：{dx}；用药：{drug}，{approval}，{lot}。",
    "{hon}您好，您在{date}购买的{drug}已发货，客服工号{staff}为您服务，热线{hotline}。",
    "帮{name}登记一下，身份证{rid}，住在{addr}，他有{dx}。",
    "我的卡号是{card}，退款{price}请退到这张卡，别退到余额，谢谢！联系{phone}",
    "订单{order}里的条码{ean}扫不出来，{hon}让我拍照发给你们邮箱{email}。",
    "家住{addr}的{name}反映：{drug}吃了以后{dx}加重了，请药师回电{phone}。",
    "【系统】账号{email}于{date} {time}在{ip}登录，如非本人操作请联系{hotline}。",
    "出国要带{drug}，护照号{passport}，英文名{ename}，能开英文处方吗？",
    "优惠券{coupon}用不了，我是老客户{name}，{price}的{drug}怎么不能用券？",
    "我爸{name}有{dx}和{dx}，每天吃{drug}，能不能加一个{drug}？",
    "快递放到{addr}门卫，收货人{hon}，电话{phone}，{date}前一定要到。",
    "IP {ip} 多次尝试登录会员{name}的账号，已锁定，手机号{phone}已通知。",
]
H_EN_TEMPLATES = [
    "Spoke with {ename} today about her {edx}; she is switching to {edrug}. Ticket {staff}, "
    "callback {ephone} after {time}.",
    "Shipping to {eaddr}. Recipient {ename}. Invoice {invoice}, lot {lot}, total {price}.",
    "From: {ename} <{email}>\nSubject: refund\nPlease refund {price} to my card {card}. "
    "Order {order}.",
    "Prescriber {ename} confirmed {edrug} for {edx}; pharmacist on duty: {ename}.",
    "Our hotline {hotline} is open until {time}. Use coupon {coupon} on your next order.",
    "Passport {passport} verified for {ename}; resident ID on file {rid}.",
    "Failed logins from {ip} for account {email} on {date}; barcode {ean} scanned at till.",
    "Hi, {ename} here. I moved to {eaddr}, please update my address. Phone {ephone}.",
    "Note: {ename} reports {edx} flare-up; prescribed {edrug} and {edrug}. Pickup code {pickup}.",
    "Customer signed, {ename}. Card ending with {card} was charged {price} on {date}.",
]


def generate_heldout(count: int = 2000, seed: int = 11) -> Iterator[Sample]:
    """Yield ``count`` deterministic held-out samples (about 60% Chinese, 40% English)."""
    rng = random.Random(seed)
    for i in range(count):
        if rng.random() < 0.6:
            language, template = "zh", rng.choice(H_ZH_TEMPLATES)
        else:
            language, template = "en", rng.choice(H_EN_TEMPLATES)
        text, entities = render_with(template, rng, H_SLOTS)
        yield Sample(id=f"h{i:06d}", text=text, language=language, entities=entities)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--output", default="-")
    args = parser.parse_args(argv)
    write_samples(generate_heldout(args.count, args.seed), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
