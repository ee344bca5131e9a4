"""Generate the labelled PII corpus used by tests and ``scripts/bench/pii_bench.py``.

Deterministic (seeded) synthetic texts in Chinese, English and mixed zh/en: customer
complaints, pharmacist consultation notes, service notes, delivery notes and English
emails. Every personal value carries exact character offsets; look-alikes that are NOT
personal data (order and waybill numbers, drug approval and batch numbers, prices, dates,
the company's 400 hotline) are placed in the same texts unlabelled, so a detector that
flags them loses precision.

The templates and value generators were written before the recognizers were tuned, and
use their own name, drug and address pools (partly overlapping with, partly outside of,
the recognizers' lexicons) so the figures measure generalisation, not memorisation.

Usage::

    python scripts/pii_corpus.py --count 4000 --seed 7 --output var/pii_corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------
# Value pools

ZH_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤"
)
ZH_COMPOUND_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "慕容", "令狐", "夏侯",
                        "公孙", "长孙", "宇文", "司徒", "尉迟"]
ZH_GIVEN_1 = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉玲桂丹萍鹏华红宇浩凯健琳雪慧颖")
ZH_GIVEN_2 = ["秀英", "秀兰", "桂英", "建华", "志强", "晓明", "婷婷", "子涵", "浩然", "雨桐",
              "欣怡", "宇轩", "梓萱", "思远", "嘉怡", "俊杰", "一鸣", "海燕", "国强", "丽华",
              "文博", "佳琪", "明轩", "若曦", "春梅", "建国", "红霞", "晓燕", "志明", "美玲",
              "天佑", "诗涵", "家豪", "振宇", "淑珍", "玉兰", "立新", "卫东", "永刚", "凤英"]
ZH_HONORIFICS = ["先生", "女士", "阿姨", "叔叔", "老师", "医生", "药师", "大爷", "奶奶", "小姐"]

EN_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
            "David", "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah",
            "Daniel", "Karen", "Matthew", "Emily", "Andrew", "Olivia", "Kevin", "Sophia",
            "Brian", "Grace", "Oliver", "Chloe", "Ethan", "Hannah", "Lucas", "Zoe", "Nathan",
            "Isabella", "Aaron", "Megan", "Tyler", "Rachel", "Jacob", "Lauren", "Priya",
            "Ahmed", "Fatima", "Mateo", "Ingrid", "Siobhan", "Raj", "Yuki", "Hiroshi", "Lena"]
EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore",
           "Jackson", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker",
           "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Nelson", "Carter",
           "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
           "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "O'Brien",
           "Fischer", "Nakamura", "Patel", "Kowalski", "Schmidt", "Dubois", "Rossi"]
PINYIN_SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
                   "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Zheng", "Liang",
                   "Xie", "Song", "Tang", "Han", "Feng", "Deng", "Cao", "Peng", "Zeng"]
PINYIN_GIVEN = ["Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang",
                "Xiaoming", "Tingting", "Haoran", "Yutong", "Xinyi", "Junjie", "Yiming",
                "Jianhua", "Zhiqiang", "Meiling", "Jiahao", "Zhenyu", "Shihan", "Ruoxi"]
EN_TITLES = ["Mr.", "Mrs.", "Ms.", "Dr.", "Miss", "Prof."]

# Real county codes (GB/T 2260), so generated resident ID numbers are structurally genuine.
RIC_REGIONS = ["110105", "110108", "310104", "310115", "440305", "440106", "330106",
               "510107", "420106", "320102", "370102", "610113", "500103", "120101",
               "350203", "430104", "210102", "230103", "340104", "530102"]

MOBILE_PREFIXES = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
                   "150", "151", "152", "153", "155", "156", "157", "158", "159", "166",
                   "173", "176", "177", "178", "180", "181", "182", "183", "185", "186",
                   "187", "188", "189", "191", "198", "199"]
LANDLINE_AREAS = ["10", "20", "21", "22", "23", "24", "25", "27", "28", "29", "311", "351",
                  "371", "411", "431", "451", "512", "571", "574", "591", "592", "731",
                  "755", "757", "769", "871"]
SEVEN_DIGIT_AREAS = {"351", "592"}
US_AREAS = ["212", "415", "646", "617", "312", "206", "213", "303"]

EMAIL_DOMAINS = ["163.com", "126.com", "qq.com", "foxmail.com", "gmail.com", "outlook.com",
                 "sina.com", "hotmail.com", "yahoo.com", "icloud.com", "example.cn",
                 "mail.pku.edu.cn", "corp-health.com.cn"]

PROVINCES = [("北京市", ["北京市"], ["朝阳区", "海淀区", "东城区", "丰台区", "西城区"]),
             ("上海市", ["上海市"], ["浦东新区", "徐汇区", "静安区", "闵行区", "黄浦区"]),
             ("广东省", ["深圳市", "广州市", "东莞市", "佛山市"], ["南山区", "天河区", "福田区",
                                                         "越秀区", "宝安区"]),
             ("浙江省", ["杭州市", "宁波市", "温州市"], ["西湖区", "滨江区", "鄞州区", "余杭区"]),
             ("江苏省", ["南京市", "苏州市", "无锡市"], ["鼓楼区", "姑苏区", "工业园区", "梁溪区"]),
             ("四川省", ["成都市", "绵阳市"], ["武侯区", "锦江区", "高新区", "涪城区"]),
             ("湖北省", ["武汉市", "宜昌市"], ["江汉区", "洪山区", "武昌区"]),
             ("山东省", ["济南市", "青岛市"], ["历下区", "市南区", "崂山区"]),
             ("陕西省", ["西安市"], ["雁塔区", "碑林区", "未央区"]),
             ("福建省", ["厦门市", "福州市"], ["思明区", "湖里区", "鼓楼区"])]
ROAD_NAMES = ["建国", "人民", "中山", "解放", "科技园南", "文三", "张江", "天府大道北", "长安",
              "学院", "光明", "和平", "新华", "滨江", "东风", "青年", "延安西", "珠江新城花城"]
ROAD_KINDS = ["路", "大道", "街", "巷", "弄"]
COMMUNITIES = ["阳光花园", "锦绣家园", "翠湖苑", "幸福里小区", "碧桂园", "万科城", "和谐家园"]

EN_STREETS = ["Market Street", "Main Street", "Oak Avenue", "Maple Drive", "Sunset Boulevard",
              "Elm Road", "Park Lane", "Keyuan Road", "Nanjing West Road", "Queen's Road"]
EN_CITIES = [("San Francisco, CA", "941"), ("Seattle, WA", "981"), ("Boston, MA", "021"),
             ("Austin, TX", "787"), ("Chicago, IL", "606")]

DIAGNOSES_ZH = ["高血压", "2型糖尿病", "糖尿病", "冠心病", "哮喘", "抑郁症", "焦虑症", "乙肝",
                "痛风", "甲状腺功能亢进", "胃溃疡", "类风湿关节炎", "银屑病", "偏头痛", "失眠",
                "过敏性鼻炎", "高脂血症", "慢性胃炎", "湿疹", "骨质疏松", "帕金森病", "慢阻肺",
                "阿尔茨海默病", "心律失常", "支气管炎", "尿路感染", "荨麻疹", "肾结石"]
DRUGS_ZH = ["二甲双胍缓释片", "氨氯地平片", "阿托伐他汀钙片", "布洛芬缓释胶囊",
            "奥美拉唑肠溶胶囊", "阿莫西林胶囊", "头孢克肟颗粒", "氯雷他定片", "孟鲁司特钠片",
            "左甲状腺素钠片", "盐酸舍曲林片", "门冬胰岛素注射液", "恩替卡韦分散片",
            "瑞舒伐他汀钙片", "缬沙坦胶囊", "硝苯地平控释片", "阿司匹林肠溶片", "别嘌醇片",
            "沙美特罗替卡松粉吸入剂", "非布司他片", "甲钴胺片", "蒙脱石散", "连花清瘟胶囊",
            "艾司西酞普兰片", "坦索罗辛缓释胶囊", "西格列汀片", "依折麦布片", "碳酸钙D3片"]
DIAGNOSES_EN = ["hypertension", "type 2 diabetes", "diabetes", "asthma", "depression",
                "anxiety disorder", "hepatitis B", "gout", "migraine", "insomnia",
                "rheumatoid arthritis", "psoriasis", "eczema", "hyperthyroidism",
                "high cholesterol", "COPD", "atrial fibrillation", "osteoporosis"]
DRUGS_EN = ["metformin", "amlodipine", "atorvastatin", "ibuprofen", "omeprazole",
            "amoxicillin", "loratadine", "montelukast", "levothyroxine", "sertraline",
            "insulin glargine", "rosuvastatin", "valsartan", "allopurinol", "salbutamol",
            "escitalopram", "sitagliptin", "febuxostat"]
OTC_PRODUCTS_ZH = ["维生素C泡腾片", "医用外科口罩", "电子体温计", "血压计", "棉签", "酒精湿巾",
                   "护手霜", "隐形眼镜护理液"]
OTC_PRODUCTS_EN = ["vitamin C tablets", "face masks", "a thermometer", "cotton swabs",
                   "hand cream"]

EMOJI = ["😡", "🙏", "👍", "😂", "💊", "📦", "😭", "🤔", "✅", "❗"]


# ---------------------------------------------------------------------------------------
# Value generators: each returns (surface text, entity type or None for a look-alike)

Gen = Callable[[random.Random], tuple[str, str | None]]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def zh_name(rng: random.Random) -> str:
    surname = rng.choice(ZH_COMPOUND_SURNAMES) if rng.random() < 0.15 else rng.choice(ZH_SURNAMES)
    given = rng.choice(ZH_GIVEN_2) if rng.random() < 0.6 else rng.choice(ZH_GIVEN_1)
    return surname + given


def g_zh_name(rng: random.Random) -> tuple[str, str | None]:
    return zh_name(rng), "PERSON"


def g_zh_honorific(rng: random.Random) -> tuple[str, str | None]:
    surname = rng.choice(ZH_COMPOUND_SURNAMES) if rng.random() < 0.1 else rng.choice(ZH_SURNAMES)
    return surname + rng.choice(ZH_HONORIFICS), "PERSON"


def g_en_name(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.2:
        return f"{rng.choice(PINYIN_SURNAMES)} {rng.choice(PINYIN_GIVEN)}", "PERSON"
    if r < 0.3:
        return f"{rng.choice(PINYIN_GIVEN)} {rng.choice(PINYIN_SURNAMES)}", "PERSON"
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}", "PERSON"


def g_en_title_surname(rng: random.Random) -> tuple[str, str | None]:
    # Only the surname is labelled; the title is context, not personal data.
    return rng.choice(EN_LAST + PINYIN_SURNAMES), "PERSON"


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + _digits(rng, 8)


def g_phone_zh(rng: random.Random) -> tuple[str, str | None]:
    if rng.random() < 0.7:
        n = mobile(rng)
        fmt = rng.randrange(8)
        text = [
            n,
            f"{n[:3]} {n[3:7]} {n[7:]}",
            f"{n[:3]}-{n[3:7]}-{n[7:]}",
            f"+86 {n[:3]} {n[3:7]} {n[7:]}",
            f"+86-{n}",
            f"0086{n}",
            f"(+86){n}",
            f"+86{n}",
        ][fmt]
        return text, "PHONE_NUMBER"
    area = rng.choice(LANDLINE_AREAS)
    # Taiyuan (0351) and Xiamen (0592) have 7-digit subscriber numbers, the others 8.
    sub = rng.choice("2345678") + _digits(rng, 6 if area in SEVEN_DIGIT_AREAS else 7)
    fmt = rng.randrange(5)
    text = [
        f"0{area}-{sub}",
        f"(0{area}){sub}",
        f"0{area}-{sub[:4]} {sub[4:]}",
        f"+86 {area} {sub}",
        f"0{area} {sub}",
    ][fmt]
    return text, "PHONE_NUMBER"


def g_phone_en(rng: random.Random) -> tuple[str, str | None]:
    if rng.random() < 0.6:
        return g_phone_zh(rng)
    area = rng.choice(US_AREAS)
    exch = rng.choice("23456789") + rng.choice("0123456789") + rng.choice("1234")
    line = _digits(rng, 4)
    fmt = rng.randrange(3)
    return [f"+1 {area}-{exch}-{line}", f"({area}) {exch}-{line}",
            f"+1 ({area}) {exch} {line}"][fmt], "PHONE_NUMBER"


def _ric_check(body: str) -> str:
    # ISO 7064 MOD 11-2
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body))
    return "10X98765432"[total % 11]


def resident_id(rng: random.Random) -> str:
    year = rng.randint(1940, 2010)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    body = f"{rng.choice(RIC_REGIONS)}{year:04d}{month:02d}{day:02d}{_digits(rng, 3)}"
    return body + _ric_check(body)


def g_ric(rng: random.Random) -> tuple[str, str | None]:
    return resident_id(rng), "CN_RESIDENT_ID"


def g_passport(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.6:
        return "E" + _digits(rng, 8), "CN_PASSPORT"
    if r < 0.85:
        return "E" + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + _digits(rng, 7), "CN_PASSPORT"
    return rng.choice("GP") + _digits(rng, 8), "CN_PASSPORT"


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    total = 0
    for i, d in enumerate(reversed(body)):
        v = int(d)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return body + str((10 - total % 10) % 10)


def bank_card(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return _luhn_complete(rng.choice(["622202", "621700", "622848", "623058", "621483",
                                          "622588", "625965"]), rng.choice([16, 19]), rng)
    if r < 0.75:
        return _luhn_complete("4" + _digits(rng, 5), 16, rng)
    if r < 0.9:
        return _luhn_complete(rng.choice(["51", "52", "53", "54", "55", "2221", "2720"]), 16, rng)
    if r < 0.95:
        return _luhn_complete(rng.choice(["3528", "3589"]), 16, rng)
    return _luhn_complete(rng.choice(["34", "37"]), 15, rng)


def g_card(rng: random.Random) -> tuple[str, str | None]:
    n = bank_card(rng)
    fmt = rng.randrange(4)
    if fmt == 1 and len(n) == 16:
        n = " ".join(n[i : i + 4] for i in range(0, 16, 4))
    elif fmt == 2 and len(n) == 16:
        n = "-".join(n[i : i + 4] for i in range(0, 16, 4))
    elif fmt == 3 and len(n) == 19:
        n = " ".join([n[:6], n[6:13], n[13:]])
    return n, "BANK_CARD"


def g_email(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.25:
        local = _digits(rng, rng.randint(6, 10)).lstrip("0") or "8"
    elif r < 0.6:
        local = f"{rng.choice(PINYIN_GIVEN).lower()}.{rng.choice(PINYIN_SURNAMES).lower()}"
    else:
        local = f"{rng.choice(EN_FIRST).lower()}{rng.choice(['', '_', '.'])}{rng.randint(1, 99)}"
    if rng.random() < 0.1:
        local = local.capitalize()
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}", "EMAIL_ADDRESS"


def g_ip(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.75:
        first = rng.choice([10, 172, 192, 58, 61, 101, 112, 114, 183, 202, 221, 36, 8])
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}", \
            "IP_ADDRESS"
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(4)]
    if rng.random() < 0.5:
        return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[3], "IP_ADDRESS"
    return "240e:" + ":".join(groups) + ":" + ":".join(groups[:3]), "IP_ADDRESS"


def g_addr_zh(rng: random.Random) -> tuple[str, str | None]:
    prov, cities, districts = rng.choice(PROVINCES)
    city = rng.choice(cities)
    parts = []
    if prov != city and rng.random() < 0.7:
        parts.append(prov)
    if rng.random() < 0.9:
        parts.append(city)
    parts.append(rng.choice(districts))
    parts.append(rng.choice(ROAD_NAMES) + rng.choice(ROAD_KINDS))
    parts.append(f"{rng.randint(1, 999)}号")
    r = rng.random()
    if r < 0.35:
        parts.append(f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 33)}0"
                     f"{rng.randint(1, 6)}室")
    elif r < 0.6:
        parts.append(f"{rng.choice(COMMUNITIES)}{rng.randint(1, 20)}号楼{rng.randint(101, 2808)}")
    return "".join(parts), "LOCATION"


def g_addr_en(rng: random.Random) -> tuple[str, str | None]:
    if rng.random() < 0.6:
        city, zip3 = rng.choice(EN_CITIES)
        apt = f", Apt {rng.randint(1, 40)}{rng.choice('ABCD')}" if rng.random() < 0.3 else ""
        return (f"{rng.randint(1, 9999)} {rng.choice(EN_STREETS)}{apt}, {city} "
                f"{zip3}{rng.randint(0, 99):02d}"), "LOCATION"
    return (f"Room {rng.randint(101, 2808)}, Building {rng.randint(1, 20)}, "
            f"{rng.randint(1, 999)} {rng.choice(['Keyuan Road', 'Jianguo Road', 'Zhangjiang Road', 'Tianfu Avenue'])}, "  # noqa: E501
            f"{rng.choice(['Nanshan District, Shenzhen', 'Chaoyang District, Beijing', 'Pudong, Shanghai', 'Wuhou District, Chengdu'])}"), "LOCATION"  # noqa: E501


def g_health_zh(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(DIAGNOSES_ZH), "HEALTH_TERM"


def g_drug_zh(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(DRUGS_ZH), "HEALTH_TERM"


def g_health_en(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(DIAGNOSES_EN), "HEALTH_TERM"


def g_drug_en(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(DRUGS_EN), "HEALTH_TERM"


# Look-alikes: never labelled.
def g_order(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.3:
        return "JD" + _digits(rng, 13), None
    if r < 0.5:
        # an 18-digit order number; occasionally passes the resident ID checksum by chance
        return "2024" + _digits(rng, 14), None
    if r < 0.7:
        return _digits(rng, 1).replace("0", "3") + _digits(rng, 15), None  # 16 digits
    if r < 0.85:
        return "TB" + _digits(rng, 19), None
    return "1" + rng.choice("3589") + _digits(rng, 9), None  # 11 digits, looks like a mobile


def g_waybill(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.35:
        return "SF" + _digits(rng, 13), None
    if r < 0.55:
        return "7" + _digits(rng, 13), None  # ZTO / YTO style 14 digits
    if r < 0.75:
        return "JDVA" + _digits(rng, 11), None
    return "E" + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + _digits(rng, 9) + "CN", None  # EMS


def g_approval(rng: random.Random) -> tuple[str, str | None]:
    return "国药准字" + rng.choice("HZSJB") + rng.choice(["1995", "2005", "2010", "2019", "2020"]) \
        + _digits(rng, 4), None


def g_approval_en(rng: random.Random) -> tuple[str, str | None]:
    return "H" + rng.choice(["2005", "2010", "2019", "2020"]) + _digits(rng, 4), None


def g_batch(rng: random.Random) -> tuple[str, str | None]:
    r = rng.random()
    if r < 0.4:
        return f"{rng.randint(2022, 2026)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}", None
    if r < 0.7:
        return rng.choice("BPL") + _digits(rng, 7), None
    return f"{rng.randint(22, 26)}{rng.randint(1, 12):02d}{_digits(rng, 4)}", None


def g_price_zh(rng: random.Random) -> tuple[str, str | None]:
    v = f"{rng.randint(3, 2999)}.{rng.randint(0, 99):02d}"
    return rng.choice([f"¥{v}", f"{v}元", f"￥{v}", f"{rng.randint(10, 999)}块"]), None


def g_price_en(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(["$", "RMB ", "USD ", "¥"]) + f"{rng.randint(3, 999)}.{rng.randint(0, 99):02d}", None


def g_date_zh(rng: random.Random) -> tuple[str, str | None]:
    y, m, d = rng.randint(2020, 2026), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}/{m}/{d}", f"{m}月{d}号",
                       f"{y}.{m:02d}.{d:02d}"]), None


def g_date_en(rng: random.Random) -> tuple[str, str | None]:
    y, m, d = rng.randint(2020, 2026), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]
    return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{months[m - 1]} {d}, {y}", f"{d:02d}/{m:02d}/{y}"]), None


def g_hotline(rng: random.Random) -> tuple[str, str | None]:
    n = rng.choice(["820", "880", "600", "898", "101", "666"]) + _digits(rng, 4)
    return rng.choice([f"400-{n[:3]}-{n[3:]}", f"400{n}", f"400 {n[:3]} {n[3:]}"]), None


def g_qty(rng: random.Random) -> tuple[str, str | None]:
    return str(rng.randint(1, 10)), None


def g_age(rng: random.Random) -> tuple[str, str | None]:
    return str(rng.randint(18, 90)), None


def g_otc_zh(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(OTC_PRODUCTS_ZH), None


def g_otc_en(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(OTC_PRODUCTS_EN), None


def g_emoji(rng: random.Random) -> tuple[str, str | None]:
    return rng.choice(EMOJI), None


SLOTS: dict[str, Gen] = {
    "name": g_zh_name, "hon": g_zh_honorific, "ename": g_en_name,
    "etsur": g_en_title_surname, "phone": g_phone_zh, "ephone": g_phone_en, "rid": g_ric,
    "passport": g_passport, "card": g_card, "email": g_email, "ip": g_ip, "addr": g_addr_zh,
    "eaddr": g_addr_en, "dx": g_health_zh, "drug": g_drug_zh, "edx": g_health_en,
    "edrug": g_drug_en, "order": g_order, "waybill": g_waybill, "approval": g_approval,
    "eapproval": g_approval_en, "batch": g_batch, "price": g_price_zh, "eprice": g_price_en,
    "date": g_date_zh, "edate": g_date_en, "hotline": g_hotline, "qty": g_qty, "age": g_age,
    "otc": g_otc_zh, "eotc": g_otc_en, "emo": g_emoji,
    "title": lambda rng: (rng.choice(EN_TITLES), None),
}

# ---------------------------------------------------------------------------------------
# Templates (written before the recognizers were tuned). Full-width punctuation is the
# norm in the Chinese ones; some are mixed zh/en.

ZH_TEMPLATES = [
    # complaints
    "我是{name}，订单号{order}的{drug}到现在还没到{emo}，快递单号{waybill}，电话{phone}，"
    "再不处理我就投诉了！",
    "投诉：{date}在你们店买的{otc}是坏的，花了{price}，联系人{hon}，手机{phone}。",
    "客服你好，我叫{name}，收货地址{addr}，你们发错货了，我要的是{drug}，订单{order}。",
    "太慢了{emo}{emo}下单{date}，到现在没发货！！！电话：{phone}，地址：{addr}",
    "你们400电话{hotline}一直打不通，我是{name}，身份证号{rid}，处方药{drug}要实名购买。",
    "退款申请：订单号：{order}，金额{price}，退款到银行卡{card}，持卡人{name}。",
    "邮箱{email}收不到发票，{hon}说会补发，可是一直没有{emo}",
    # consultation notes
    "问诊记录：患者{name}，{age}岁，主诉头痛，既往有{dx}病史，目前服用{drug}，"
    "建议复诊。联系电话{phone}。",
    "药师{name}备注：患者诊断为{dx}，处方{drug}，每日{qty}次，家属{name}代取，"
    "核对身份证{rid}。",
    "用药咨询：{hon}咨询{drug}与{drug}能否同服，患者有{dx}，已告知间隔2小时。",
    "处方审核：患者{name}（身份证：{rid}），诊断：{dx}；{dx}。药品：{drug}，批号{batch}，"
    "{approval}。",
    "复诊提醒已发送至{phone}，患者{name}的{dx}控制良好，继续{drug}。",
    "过敏史：青霉素。患者{name}自述{dx}，开具{drug}，单价{price}。",
    # service notes
    "客服备注：{date}来电，{hon}反映{drug}包装破损，已补发，新运单{waybill}，"
    "回访号码{phone}。",
    "工单：用户{name}修改收货地址为{addr}，原地址{addr}。操作IP {ip}。",
    "会员{name}绑定邮箱{email}、手机{phone}，登录IP：{ip}。",
    "核验护照号{passport}，持有人{name}，境外购药需提供护照信息。",
    "客户{name}使用护照{passport}实名认证，客服{hon}已审核。",
    "已为{hon}办理退款{price}，原路退回尾号卡号{card}。",
    "系统日志：{date} 用户从{ip}登录，修改了手机号为{phone}。",
    # delivery notes
    "收件人：{name}，电话：{phone}，地址：{addr}，备注：放快递柜，药品{otc}。",
    "配送单：{waybill}｜收件人{name}｜{phone}｜{addr}｜{emo}",
    "请送到{addr}，找{hon}，电话{phone}，谢谢🙏",
    "物流更新：运单{waybill}已签收，签收人{name}，如有问题请拨打{hotline}。",
    "顺丰单号{waybill}，收件人{name}，{phone}，冷链药品{drug}请尽快签收。",
    # mixed zh/en
    "Hi客服，我是{name}，email是{email}，order {order}的{drug}还没到。",
    "患者{name}（英文名{ename}），phone {phone}，诊断{dx}，开具{drug}。",
    "VIP客户{name}，收货地址：{addr}，Tel：{phone}，备注：please call before delivery😀",
]

EN_TEMPLATES = [
    "Hello, my name is {ename} and I ordered {edrug} on {edate} (order {order}). "
    "It has not arrived. Please call me at {ephone} or email {email}.",
    "Dear support, I am writing about order {order}. The package went to the wrong address. "
    "My address is {eaddr}. Thanks, {ename}",
    "Hi, this is {title} {etsur}. I was diagnosed with {edx} and need a refill of {edrug}. "
    "You can reach me at {ephone}.",
    "Consultation note: patient {ename}, {age} years old, history of {edx}, currently taking "
    "{edrug}. Advised follow-up in 2 weeks.",
    "Pharmacist note: {title} {etsur} asked whether {edrug} can be taken with {edrug}. "
    "Patient has {edx}. Batch {batch}, approval number {eapproval}.",
    "Service note: customer {ename} requested a refund of {eprice} to card {card}. "
    "Tracking number {waybill}.",
    "Login alert: your account {email} signed in from {ip} on {edate}.",
    "Please deliver to {eaddr}. Contact: {ename}, {ephone}.",
    "Identity check: passport number {passport}, holder {ename}.",
    "Our hotline {hotline} is available 24/7. Your order {order} ships on {edate}.",
    "Complaint from {ename} ({email}): I was charged {eprice} twice for {eotc}! {emo}",
    "Refill reminder sent to {ename} at {ephone}: {edrug} for {edx}.",
    "Customer {ename} provided resident ID {rid} for prescription verification.",
    "Hi {title} {etsur}, your prescription for {edrug} is ready. Order {order}, total {eprice}.",
    "Support ticket: user with IP {ip} reported that {eotc} arrived damaged. Waybill {waybill}.",
]


@dataclass
class Sample:
    id: str
    text: str
    language: str
    entities: list[dict]


_SLOT_RE = re.compile(r"\{(\w+)\}")


def render(template: str, rng: random.Random) -> tuple[str, list[dict]]:
    """Fill ``template`` and return the text with the exact offsets of every labelled value."""
    return render_with(template, rng, SLOTS)


def render_with(template: str, rng: random.Random,
                slots: dict[str, Gen]) -> tuple[str, list[dict]]:
    """:func:`render` with another set of value generators (the held-out split's)."""
    out: list[str] = []
    entities: list[dict] = []
    pos = 0
    length = 0
    for m in _SLOT_RE.finditer(template):
        literal = template[pos : m.start()]
        out.append(literal)
        length += len(literal)
        value, etype = slots[m.group(1)](rng)
        if etype:
            entities.append({"type": etype, "start": length, "end": length + len(value)})
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), entities


def _decorate(text: str, entities: list[dict], rng: random.Random) -> tuple[str, list[dict]]:
    """Sometimes append emoji or a trailing remark; offsets stay valid as we only append."""
    if rng.random() < 0.25:
        text += rng.choice(EMOJI) * rng.randint(1, 3)
    return text, entities


def generate(count: int = 4000, seed: int = 7) -> Iterator[Sample]:
    """Yield ``count`` deterministic labelled samples (about 60% Chinese, 40% English)."""
    rng = random.Random(seed)
    for i in range(count):
        if rng.random() < 0.6:
            language, template = "zh", rng.choice(ZH_TEMPLATES)
        else:
            language, template = "en", rng.choice(EN_TEMPLATES)
        text, entities = render(template, rng)
        text, entities = _decorate(text, entities, rng)
        yield Sample(id=f"c{i:06d}", text=text, language=language, entities=entities)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", default="-")
    args = parser.parse_args(argv)
    write_samples(generate(args.count, args.seed), args.output)
    return 0


def write_samples(samples: Iterator[Sample], output: str) -> None:
    """Write samples as JSON Lines to ``output`` (``-`` = stdout)."""
    with ExitStack() as files:
        # a file opened here is closed on the way out; stdout stays open
        out = sys.stdout if output == "-" else files.enter_context(open(output, "w", encoding="utf-8"))
        for s in samples:
            out.write(json.dumps(s.__dict__, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
