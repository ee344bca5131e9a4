#!/usr/bin/env python
"""Synthetic multi-channel source records for an online pharmacy, with ground truth.

    python scripts/generate_records.py --people 100000 --seed 7 --out var/records.jsonl
    python scripts/generate_records.py --demo --out var/demo.jsonl
    python scripts/generate_records.py --people 2000 --seed 1 --out x.jsonl --malformed 20 \
        --rate family=0.2 --rate namesake=0.1

Writes
  PATH             JSON Lines, one source record (docs/records.md) per line
  PATH.truth.csv   source,source_record_id,person_id   (one row per distinct record key)
  PATH.traps.csv   source,source_record_id,person_id,trap   (what was planted where)
and prints a one-line summary with the trap counts.

Deterministic: the same arguments give byte-identical files (one seeded PRNG, no hash-order
dependence, no wall clock). Streaming: people are generated household by household and
records leave through a bounded shuffle window (so channels and people interleave as in a
real feed), so memory stays constant whatever --people is.

Channels and what they really send
  jd_health / ali_health / pingan_health  marketplace account id, MASKED phone (138****5678),
      real-name national ID on prescription orders, delivery name/address
  wechat_mp     openid (+ unionid when the mini-program is bound), sometimes the authorised
                phone, nickname instead of a name, consents
  app           member id, phone, device id, email, consents
  store_pos     member id or phone; a till placeholder (13800138000, ...) when the customer
                gives none
  call_center   phone, honorific-only names (王先生), free-text notes with personal data

Traps (each a fraction, see --rate; all recorded in PATH.traps.csv)
  family        households of 2-3 people sharing a phone and an address (must stay apart)
  namesake      people drawn from very common names (王伟, 李娜, 张敏, ...)
  placeholder   till placeholder phones on store records without a member card
  phone_change  people who changed number: old phone on older records, new on newer ones,
                linked by their member id
  traditional   name in traditional characters (張偉)
  typo          one given-name character replaced by a homophone (张玮 for 张伟)
  pinyin        name in pinyin (Zhang Wei / ZHANG WEI / Wei Zhang)
  honorific     call-centre name that is only surname + 先生/女士
  nickname      WeChat name that is a nickname (小伟, 老王)
  resend        the same (source, source_record_id) sent again later with updated content
  extra_fields  undeclared profile / top-level fields (wechat_nickname, emergency_contact,
                insurance_no, allergies, channel_meta)
  masked phones and national IDs / member ids shared across channels happen by design and
  are counted too.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.datagen import ids, names
from scripts.datagen.fastrand import below, between, cumulative, pick, weighted
from scripts.datagen.pools import (
    ALLERGIES,
    AREA_WEIGHTS,
    AREAS,
    COMMON_NAMES,
    COMMUNITIES,
    CONDITIONS,
    DRUGS,
    EMAIL_DOMAINS,
    PLACEHOLDER_PHONES,
    STORES,
    STREETS,
    WECHAT_NICKNAMES,
)

SOURCES = (
    "jd_health",
    "ali_health",
    "pingan_health",
    "wechat_mp",
    "app",
    "store_pos",
    "call_center",
)
SOURCE_WEIGHTS = (20, 15, 10, 20, 15, 12, 8)
MARKETPLACES = frozenset({"jd_health", "ali_health", "pingan_health"})

DEFAULT_RATES: dict[str, float] = {
    "family": 0.08,  # share of households that are families of 2-3 people
    "namesake": 0.04,  # share of people with a very common name
    "placeholder": 0.5,  # store record without member card: placeholder instead of phone
    "phone_change": 0.04,  # share of people who changed their number
    "traditional": 0.03,  # per named record
    "typo": 0.03,  # per named record
    "pinyin": 0.04,  # per named record
    "honorific": 0.55,  # per call-centre record
    "nickname": 0.3,  # per WeChat record
    "resend": 0.03,  # per record: an update re-send follows later in the file
    "extra_fields": 0.08,  # per record
}

RECORDS_PER_PERSON = (1, 2, 3, 4, 5, 6)
RECORDS_PER_PERSON_CUM = (25, 50, 70, 85, 95, 100)
MEAN_RECORDS_PER_PERSON = 2.75

TZ = timezone(timedelta(hours=8))
T_START = int(datetime(2023, 1, 1, tzinfo=TZ).timestamp())
T_END = int(datetime(2026, 3, 31, tzinfo=TZ).timestamp())
BIRTH_START = datetime(1940, 1, 1).toordinal()
BIRTH_END = datetime(2006, 12, 31).toordinal()

RX_DRUGS = tuple(d for d in DRUGS if d[2])
CHRONIC_DRUGS = tuple(d for d in DRUGS if d[4])
HOURS = tuple(range(24))
_ONLINE_HOURS_CUM = cumulative(
    (1, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3, 3, 3, 3.5, 3, 3, 3, 3, 3.5, 4, 5, 6, 6, 4.5, 2.5)
)
STORE_HOURS = tuple(range(8, 23))
_STORE_HOURS_CUM = cumulative((2, 4, 5, 5, 5, 4, 4, 4, 4, 5, 6, 6, 5, 3, 1))
SHUFFLE_WINDOW = 4096
_AREA_CUM = cumulative(AREA_WEIGHTS)
_DOMAINS = tuple(d for d, _ in EMAIL_DOMAINS)
_DOMAIN_CUM = cumulative([w for _, w in EMAIL_DOMAINS])
ORDER_PREFIX = {
    "jd_health": "JD",
    "ali_health": "AL",
    "pingan_health": "PA",
    "wechat_mp": "WX",
    "app": "APP",
    "store_pos": "POS",
    "call_center": "CC",
}


_DAYS: dict[int, str] = {}
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()


def iso(ts: int) -> str:
    """ISO-8601 in China time (+08:00), e.g. 2026-03-01T10:22:00+08:00."""
    day, sec = divmod(ts + 8 * 3600, 86400)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.fromordinal(_EPOCH_ORDINAL + day).date().isoformat()
    return f"{date}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}+08:00"


@dataclass(slots=True)
class Person:
    pid: str
    gender: str
    birth_date: str  # ISO
    name: str
    area: tuple  # current address area
    address: str
    national_id: str
    passport: str | None
    phone: str | None  # own mobile (None: elderly relative without one)
    old_phone: str | None = None  # phone-change trap
    family_phone: str | None = None  # household phone shared with relatives
    email: str | None = None
    member_id: str | None = None
    unionid: str | None = None
    openid: str | None = None
    device: str | None = None
    platform_ids: dict = field(default_factory=dict)
    chronic: tuple | None = None
    condition: str | None = None
    traps: set = field(default_factory=set)


@dataclass
class Stats:
    people: int = 0
    records: int = 0  # distinct record keys
    lines: int = 0  # JSON lines written, incl. re-sends and malformed
    resends: int = 0
    malformed: int = 0
    by_source: Counter = field(default_factory=Counter)
    traps: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self, out: Path) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        src = " ".join(f"{s}={self.by_source[s]}" for s in SOURCES)
        traps = " ".join(f"{k}={v}" for k, v in sorted(self.traps.items()))
        return (
            f"generated {self.records} records ({self.lines} lines: {self.resends} re-sends, "
            f"{self.malformed} malformed) for {self.people} people in {self.seconds:.2f}s "
            f"({rate:,.0f} lines/s) -> {out} (+ .truth.csv, .traps.csv) | sources: {src} | "
            f"traps: {traps}"
        )


class Generator:
    """Produces (record, person_id, traps, is_resend) tuples in file order."""

    def __init__(self, people: int, seed: int, rates: dict[str, float] | None = None):
        self.n_people = people
        self.seed = seed
        self.rates = dict(DEFAULT_RATES)
        if rates:
            unknown = set(rates) - set(DEFAULT_RATES)
            if unknown:
                raise ValueError(f"unknown trap rate(s): {', '.join(sorted(unknown))}")
            self.rates.update(rates)
        self.rng = random.Random(f"cdp-records/{seed}")
        self.shuffle_rng = random.Random(f"cdp-records/{seed}/shuffle")
        # Profiling objections draw from their own stream, so adding them left every other
        # generated value (and the tests and benchmarks built on them) as it was.
        self.objection_rng = random.Random(f"cdp-records/{seed}/objection")
        self.counters: Counter = Counter()
        self.stats = Stats()
        self._next_pid = 0

    # --- people ------------------------------------------------------------------------

    def _new_pid(self) -> str:
        self._next_pid += 1
        return f"P{self._next_pid:07d}"

    def _area(self) -> tuple:
        return weighted(self.rng, AREAS, _AREA_CUM)

    def _address(self, area: tuple) -> str:
        rng = self.rng
        province, city, district = area[1], area[2], area[3]
        street = pick(rng, STREETS)
        no = between(rng, 1, 400)
        if rng.random() < 0.6:
            tail = (
                f"{pick(rng, COMMUNITIES)}{between(rng, 1, 30)}栋{between(rng, 1, 6)}单元"
                f"{between(rng, 1, 33)}{between(rng, 1, 5):02d}室"
            )
        else:
            tail = f"{between(rng, 1, 25)}号楼{between(rng, 1, 30)}{between(rng, 1, 9):02d}"
        head = city if province == city else province + city
        return f"{head}{district}{street}{no}号{tail}"

    def _birth(self, min_age: int | None = None, max_age: int | None = None) -> str:
        lo, hi = BIRTH_START, BIRTH_END
        if max_age is not None:
            lo = max(lo, datetime(2025 - max_age, 1, 1).toordinal())
        if min_age is not None:
            hi = min(hi, datetime(2025 - min_age, 12, 31).toordinal())
        return datetime.fromordinal(between(self.rng, lo, max(lo, hi) + 1)).date().isoformat()

    def _email(self, name: str) -> str | None:
        rng = self.rng
        if rng.random() < 0.45:
            return None
        domain = weighted(rng, _DOMAINS, _DOMAIN_CUM)
        if domain == "qq.com" and rng.random() < 0.6:
            return f"{between(rng, 10**7, 3 * 10**9)}@qq.com"
        surname, given = names.split_name(name)
        sp = names.SURNAME_PINYIN.get(surname, "x").lower()
        gp = "".join(names.PINYIN.get(c, "x") for c in given)
        local = pick(rng, (f"{sp}{gp}", f"{sp}.{gp}", f"{gp}{sp}", f"{sp}_{gp[:1]}"))
        if rng.random() < 0.7:
            local += str(between(rng, 1, 2000))
        return f"{local}@{domain}"

    def _person(
        self,
        gender: str | None = None,
        surname: str | None = None,
        area: tuple | None = None,
        address: str | None = None,
        min_age: int | None = None,
        max_age: int | None = None,
        own_phone: bool = True,
    ) -> Person:
        rng = self.rng
        gender = gender or ("female" if rng.random() < 0.55 else "male")
        birth = self._birth(min_age, max_age)
        traps: set = set()
        if surname is None and rng.random() < self.rates["namesake"]:
            name, gender = self._common_name()
            traps.add("namesake")
        else:
            name = (surname or names.random_surname(rng)) + names.random_given(rng, gender)
        area = area or self._area()
        # the ID carries the place of first registration: mostly where they live now; the code
        # must have existed in their birth year (stdnum.cn.ric checks that)
        year = int(birth[:4])
        id_area = area if rng.random() < 0.7 else self._area()
        while id_area[5] > year:
            id_area = self._area()
        p = Person(
            pid=self._new_pid(),
            gender=gender,
            birth_date=birth,
            name=name,
            area=area,
            address=address or self._address(area),
            national_id=ids.national_id(rng, id_area[0], birth, gender),
            passport=ids.passport(rng) if rng.random() < 0.06 else None,
            phone=ids.mobile(rng) if own_phone else None,
            email=self._email(name),
            traps=traps,
        )
        if rng.random() < 0.35:
            p.chronic = pick(rng, CHRONIC_DRUGS)
            p.condition = pick(rng, CONDITIONS)
        return p

    def _common_name(self) -> tuple[str, str]:
        """(name, gender) from the very common names; geometric weights put most namesakes
        on the first few names, so they collide even in small sets."""
        i = min(int(self.rng.expovariate(0.35)), len(COMMON_NAMES) - 1)
        return COMMON_NAMES[i]

    def _household(self, room: int) -> list[Person]:
        rng = self.rng
        if room < 2 or rng.random() >= self.rates["family"]:
            return [self._person()]
        head = self._person(min_age=30, max_age=60)
        head_surname = names.split_name(head.name)[0]
        members = [head]
        kinds = ["spouse", "parent", "child"]
        rng.shuffle(kinds)
        for kind in kinds[: min(room - 1, 1 if rng.random() < 0.7 else 2)]:
            if kind == "spouse":
                m = self._person(
                    gender="female" if head.gender == "male" else "male",
                    surname=names.random_surname(rng),
                    area=head.area,
                    address=head.address,
                    min_age=28,
                    max_age=62,
                )
            elif kind == "parent":
                m = self._person(
                    surname=head_surname,
                    area=head.area,
                    address=head.address,
                    min_age=66,
                    max_age=85,
                    own_phone=rng.random() < 0.3,
                )
            else:
                m = self._person(
                    surname=head_surname,
                    area=head.area,
                    address=head.address,
                    min_age=18,
                    max_age=28,
                )
            members.append(m)
        for m in members:
            m.family_phone = head.phone
            m.traps.add("family")
        self.stats.traps["family_households"] += 1
        self.stats.traps["family_people"] += len(members)
        return members

    # --- record pieces -----------------------------------------------------------------

    def _rid(self, source: str) -> str:
        self.counters[source] += 1
        return f"{source}-{self.counters[source]:07d}"

    def _phone_for(self, p: Person, ts: int, change_at: int | None, traps: list) -> str | None:
        """The number this person gives on this occasion (own, old, or the family's)."""
        if p.family_phone is not None and (p.phone is None or self.rng.random() < 0.35):
            if p.family_phone != p.phone:
                traps.append("family_shared_phone")
            return p.family_phone
        if p.old_phone is not None and change_at is not None:
            if ts < change_at:
                traps.append("phone_changed_old")
                return p.old_phone
            traps.append("phone_changed_new")
        return p.phone

    def _name_for(self, p: Person, source: str, traps: list) -> str:
        rng = self.rng
        r = rng.random()
        rates = self.rates
        if source == "call_center" and r < rates["honorific"]:
            traps.append("honorific")
            return names.honorific(rng, p.name, p.gender)
        if source == "wechat_mp" and r < rates["nickname"]:
            traps.append("nickname")
            return names.nickname(rng, p.name)
        r = rng.random()
        if r < rates["traditional"]:
            if names.has_traditional_form(p.name):
                traps.append("traditional")
                return names.traditional(p.name)
        elif r < rates["traditional"] + rates["typo"]:
            typo = names.homophone_typo(rng, p.name)
            if typo is not None:
                traps.append("typo")
                return typo
        elif r < rates["traditional"] + rates["typo"] + rates["pinyin"]:
            traps.append("pinyin")
            return names.pinyin_name(rng, p.name)
        return p.name

    def _address_for(self, p: Person) -> str:
        r = self.rng.random()
        a = p.address
        if r < 0.15:  # province dropped
            province, city = p.area[1], p.area[2]
            if province != city and a.startswith(province):
                return a[len(province) :]
        elif r < 0.22:  # stray spaces
            return a.replace("区", "区 ", 1)
        return a

    def _order(self, p: Person, source: str, ts: int, rx_bias: float) -> dict:
        rng = self.rng
        items = []
        for _ in range(1 if rng.random() < 0.65 else between(rng, 2, 4)):
            if p.chronic is not None and rng.random() < 0.6:
                d = p.chronic
            else:
                d = pick(rng, DRUGS)
                if not d[2] and rng.random() < rx_bias:
                    d = pick(rng, RX_DRUGS)
            qty = pick(rng, (1, 1, 1, 2, 2, 3, 4, 6))
            for it in items:
                if it["sku"] == d[0]:
                    it["qty"] += qty
                    break
            else:
                items.append(
                    {"sku": d[0], "name": d[1], "rx": d[2], "qty": qty, "unit_price": d[3]}
                )
        total = round(sum(i["qty"] * i["unit_price"] for i in items), 2)
        if source == "store_pos":
            oid = f"POS-{pick(rng, STORES)}-{below(rng, 10**8):08d}"
        else:
            oid = f"{ORDER_PREFIX[source]}{below(rng, 10**12):012d}"
        return {
            "order_id": oid,
            # a till record is written at checkout; online records arrive after the order
            "ordered_at": iso(
                ts - (below(rng, 120) if source == "store_pos" else between(rng, 60, 7200))
            ),
            "items": items,
            "total": total,
        }

    def _interaction(self, p: Person, kind: str, ts: int, phone: str | None) -> dict:
        rng = self.rng
        drug = (p.chronic or pick(rng, DRUGS))[1].split(" ")[0]
        drug2 = pick(rng, DRUGS)[1].split(" ")[0]
        phone_txt = ids.format_mobile(rng, phone or p.phone or ids.mobile(rng))
        if kind == "complaint":
            text = pick(
                rng,
                (
                    "订单配送延迟三天，客户很不满意，要求退款。",
                    f"收到的{drug}包装破损，客户{p.name}要求换货，联系电话{phone_txt}。",
                    f"快递放错地址，正确地址是{p.address}，请尽快重新派送。",
                    "客服态度不好，客户要求投诉升级。",
                    f"Customer {names.pinyin_name(rng, p.name)} says the parcel never arrived.",
                ),
            )
        elif kind == "consultation":
            text = pick(
                rng,
                (
                    f"患者咨询{drug}与{drug2}能否同服，自述有{p.condition or '高血压'}病史。",
                    f"{p.name}咨询{drug}的用法用量，药师建议饭后服用。",
                    "用药后出现轻微头晕，已建议线下就医。",
                    f"孕期能否服用{drug2}？已转执业药师回复。",
                ),
            )
        else:
            text = pick(
                rng,
                (
                    f"客户要求修改收货地址为{p.address}。",
                    f"客户来电更新手机号，新号码{phone_txt}。",
                    "会员积分查询，已告知。",
                    f"Customer asked for an English invoice, email {p.email or 'not given'}.",
                    "客户要求取消订阅短信。",
                ),
            )
        return {"kind": kind, "at": iso(ts), "text": text}

    def _consents(self, ts: int) -> list:
        rng = self.rng
        out = []
        for purpose in ("marketing", "marketing_health", "care_reminders"):
            if rng.random() < 0.5:
                out.append(
                    {
                        "purpose": purpose,
                        "granted": rng.random() < 0.7,
                        "at": iso(ts - between(rng, 0, 86400 * 30)),
                    }
                )
        # A few customers object to profiling (PIPL art. 24): a withdrawn `profiling` decision;
        # some agree to their pseudonymised data going to a research partner.
        if self.objection_rng.random() < 0.04:
            out.append({"purpose": "profiling", "granted": False, "at": iso(ts - 3600)})
        if self.objection_rng.random() < 0.3:
            out.append({"purpose": "research", "granted": self.objection_rng.random() < 0.8,
                        "at": iso(ts - 7200)})
        return out

    # --- one record --------------------------------------------------------------------

    def _record(self, p: Person, source: str, ts: int, change_at: int | None) -> tuple[dict, list]:
        rng = self.rng
        rates = self.rates
        traps: list = []
        idents: list = []
        profile: dict = {}
        orders: list = []
        interactions: list = []
        consents: list = []
        extra_top: dict = {}
        rid = self._rid(source)

        def add(t: str, v: str) -> None:
            idents.append({"type": t, "value": v})

        if source in MARKETPLACES:
            pu = p.platform_ids.get(source)
            if pu is None:
                pu = p.platform_ids[source] = ids.platform_user_id(rng, source)
            add("platform_user_id", pu)
            phone = self._phone_for(p, ts, change_at, traps)
            if phone and rng.random() < 0.85:
                add("phone", ids.mask_mobile(phone))
                traps.append("masked_phone")
            order = self._order(p, source, ts, rx_bias=0.35 if source != "pingan_health" else 0.6)
            orders.append(order)
            rx = any(i["rx"] for i in order["items"])
            real_name = rx and rng.random() < 0.8
            if real_name or rng.random() < 0.08:
                add("national_id", p.national_id)
            if source == "pingan_health" and p.passport and rng.random() < 0.25:
                add("passport", p.passport)
            if real_name or rng.random() < 0.7:
                profile["name"] = p.name if real_name else self._name_for(p, source, traps)
            if real_name and rng.random() < 0.5:
                profile["gender"] = p.gender
                profile["birth_date"] = p.birth_date
            if rng.random() < 0.85:
                profile["address"] = self._address_for(p)
            if source == "pingan_health" and rng.random() < 0.4:
                interactions.append(self._interaction(p, "consultation", ts, phone))
            elif rng.random() < 0.08:
                interactions.append(self._interaction(p, "complaint", ts, phone))
            if source == "pingan_health" and rng.random() < rates["extra_fields"] * 3:
                profile["insurance_no"] = ids.insurance_no(rng)
                traps.append("extra_fields")
        elif source == "wechat_mp":
            if p.openid is None:
                p.openid = ids.wechat_openid(rng)
                p.unionid = ids.wechat_unionid(rng) if rng.random() < 0.75 else None
            add("wechat_openid", p.openid)
            if p.unionid and rng.random() < 0.9:
                add("wechat_unionid", p.unionid)
            if rng.random() < 0.4:
                phone = self._phone_for(p, ts, change_at, traps)
                if phone:
                    add("phone", ids.format_mobile(rng, phone))
            if p.member_id and rng.random() < 0.3:
                add("member_id", p.member_id)
            if rng.random() < 0.7:
                profile["name"] = self._name_for(p, source, traps)
            if rng.random() < 0.4:
                profile["gender"] = p.gender
            if rng.random() < 0.3:
                profile["address"] = self._address_for(p)
            if rng.random() < rates["extra_fields"] * 4:
                profile["wechat_nickname"] = pick(rng, WECHAT_NICKNAMES)
                traps.append("extra_fields")
            if rng.random() < 0.5:
                orders.append(self._order(p, source, ts, rx_bias=0.2))
            if rng.random() < 0.5:
                consents = self._consents(ts)
            if rng.random() < 0.1:
                interactions.append(self._interaction(p, "consultation", ts, None))
        elif source == "app":
            if p.member_id is None:
                p.member_id = ids.member_id(rng)
            add("member_id", p.member_id)
            phone = self._phone_for(p, ts, change_at, traps)
            if phone and (rng.random() < 0.9 or change_at is not None):
                add("phone", ids.format_mobile(rng, phone))
            if rng.random() < 0.8:
                if p.device is None or rng.random() < 0.1:
                    p.device = ids.device_id(rng)
                add("device_id", p.device)
            if p.email and rng.random() < 0.5:
                add("email", ids.messy_email(rng, p.email))
            if rng.random() < 0.15:
                add("national_id", p.national_id)
            if p.passport and rng.random() < 0.1:
                add("passport", p.passport)
            profile["name"] = self._name_for(p, source, traps)
            if rng.random() < 0.7:
                profile["gender"] = p.gender
                profile["birth_date"] = p.birth_date
            if rng.random() < 0.5:
                profile["address"] = self._address_for(p)
            if rng.random() < 0.6:
                orders.append(self._order(p, source, ts, rx_bias=0.3))
            if rng.random() < 0.6:
                consents = self._consents(ts)
            if rng.random() < 0.15:
                interactions.append(self._interaction(p, "service_note", ts, phone))
            if rng.random() < rates["extra_fields"]:
                profile["emergency_contact"] = {
                    "name": names.random_surname(rng) + names.random_given(rng, "female"),
                    "phone": ids.format_mobile(rng, ids.mobile(rng)),
                }
                traps.append("extra_fields")
            if rng.random() < rates["extra_fields"] / 2:
                profile["allergies"] = pick(rng, ALLERGIES)
                if "extra_fields" not in traps:
                    traps.append("extra_fields")
        elif source == "store_pos":
            member = change_at is not None or rng.random() < 0.55
            if member:
                if p.member_id is None:
                    p.member_id = ids.member_id(rng)
                add("member_id", p.member_id)
                if change_at is not None:
                    phone = self._phone_for(p, ts, change_at, traps)
                    if phone:
                        add("phone", ids.format_mobile(rng, phone))
            elif rng.random() < rates["placeholder"]:
                add("phone", pick(rng, PLACEHOLDER_PHONES))
                traps.append("placeholder_phone")
            else:
                phone = self._phone_for(p, ts, change_at, traps)
                if phone:
                    add("phone", ids.format_mobile(rng, phone))
            if rng.random() < 0.45:
                profile["name"] = self._name_for(p, source, traps)
            if rng.random() < 0.05:
                profile["address"] = self._address_for(p)
            orders.append(self._order(p, source, ts, rx_bias=0.3))
            if rng.random() < 0.5:
                extra_top["channel_meta"] = {
                    "store_id": pick(rng, STORES),
                    "till": f"T{between(rng, 1, 9):02d}",
                    "cashier": f"E{between(rng, 1000, 9999)}",
                }
        else:  # call_center
            phone = self._phone_for(p, ts, change_at, traps)
            if phone and rng.random() < 0.95:
                add("phone", ids.format_mobile(rng, phone))
            if p.member_id and rng.random() < 0.2:
                add("member_id", p.member_id)
            if p.email and rng.random() < 0.05:
                add("email", ids.messy_email(rng, p.email))
            if rng.random() < 0.9:
                profile["name"] = self._name_for(p, source, traps)
            if rng.random() < 0.2:
                profile["address"] = self._address_for(p)
            kind = weighted(rng, ("complaint", "consultation", "service_note"), (3, 7, 10))
            interactions.append(self._interaction(p, kind, ts, phone))
            if rng.random() < 0.3:
                interactions.append(self._interaction(p, "service_note", ts + 600, phone))
            if rng.random() < 0.15:
                orders.append(self._order(p, source, ts, rx_bias=0.5))
            if rng.random() < 0.1:
                consents = self._consents(ts)
            if rng.random() < rates["extra_fields"] / 2:
                profile["emergency_contact"] = f"{names.nickname(rng, p.name)} {ids.mobile(rng)}"
                traps.append("extra_fields")

        if "namesake" in p.traps and profile.get("name") == p.name:
            traps.append("namesake")
        rec: dict = {
            "source": source,
            "source_record_id": rid,
            "observed_at": iso(ts),
            "identifiers": idents,
            "profile": profile,
        }
        if orders:
            rec["orders"] = orders
        if interactions:
            rec["interactions"] = interactions
        if consents:
            rec["consents"] = consents
        if extra_top:
            rec.update(extra_top)
            if "extra_fields" not in traps:
                traps.append("extra_fields")
        return rec, traps

    def _resend(self, rec: dict, p: Person) -> dict:
        """A later update of the same record: same key, same person, changed content."""
        rng = self.rng
        new = json.loads(json.dumps(rec))  # deep copy; records are small
        ts = int(datetime.fromisoformat(rec["observed_at"]).timestamp())
        new["observed_at"] = iso(ts + between(rng, 3600, 86400 * 30))
        r = rng.random()
        if r < 0.35 and new.get("consents"):
            for c in new["consents"]:
                if c["granted"]:
                    c["granted"] = False
                    c["at"] = new["observed_at"]
                    break
            else:
                new["consents"][0]["granted"] = True
                new["consents"][0]["at"] = new["observed_at"]
        elif r < 0.6:
            new["profile"]["address"] = self._address_for(p)
        else:
            for o in new.get("orders", ()):
                o["status"] = pick(rng, ("shipped", "delivered", "refunded"))
            new.setdefault("interactions", []).append(
                {"kind": "service_note", "at": new["observed_at"], "text": "订单状态已更新。"}
            )
        return new

    # --- stream ------------------------------------------------------------------------

    def _time_of_day(self, source: str) -> int:
        """Seconds after midnight: stores and the call centre keep opening hours, online
        channels peak in the evening and go quiet at night."""
        rng = self.rng
        if source == "store_pos":
            hour = weighted(rng, STORE_HOURS, _STORE_HOURS_CUM)
        elif source == "call_center":
            hour = between(rng, 9, 21)
        else:
            hour = weighted(rng, HOURS, _ONLINE_HOURS_CUM)
        return hour * 3600 + below(rng, 3600)

    def _person_records(self, p: Person) -> list[tuple]:
        rng = self.rng
        k = weighted(rng, RECORDS_PER_PERSON, RECORDS_PER_PERSON_CUM)
        change_at = None
        if (
            p.phone is not None
            and p.family_phone is None
            and rng.random() < self.rates["phone_change"]
        ):
            # changed number: linked over time by the member card used in app and store
            k = max(k, 2)
            p.old_phone, p.phone = p.phone, ids.mobile(rng)
            p.traps.add("phone_change")
            channels = [pick(rng, ("app", "store_pos")) for _ in range(k)]
            self.stats.traps["phone_change_people"] += 1
        else:
            favourites = rng.sample(SOURCES, k=pick(rng, (1, 2, 2, 3)))
            fw = [SOURCE_WEIGHTS[SOURCES.index(s)] for s in favourites]
            channels = rng.choices(favourites, weights=fw, k=k)
        # a random day each, a time of day typical of the channel; in time order
        days = (T_END - T_START) // 86400
        visits = sorted(
            (T_START + below(rng, days) * 86400 + self._time_of_day(source), source)
            for source in channels
        )
        if p.old_phone is not None:
            change_at = (visits[k // 2 - 1][0] + visits[k // 2][0]) // 2
        out = []
        for ts, source in visits:
            rec, traps = self._record(p, source, ts, change_at)
            out.append((rec, p.pid, traps, False))
            if rng.random() < self.rates["resend"]:
                out[-1] = (rec, p.pid, traps, self._resend(rec, p))
        self._person_stats(p, [o[0] for o in out])
        return out

    def _person_stats(self, p: Person, recs: list[dict]) -> None:
        t = self.stats.traps
        if "namesake" in p.traps:
            t["namesake_people"] += 1
        for id_type in ("national_id", "member_id"):
            srcs = {r["source"] for r in recs for i in r["identifiers"] if i["type"] == id_type}
            if len(srcs) >= 2:
                t[f"{id_type}_multi_channel_people"] += 1

    def __iter__(self):
        """Yields (record, person_id, traps, is_resend) in file order.

        Records leave through a window of SHUFFLE_WINDOW records drawn at random, so people
        and channels interleave; an update re-send enters the window only once its original
        has left it, so it always comes later in the file.
        """
        window: list = []
        srand = self.shuffle_rng.random
        while True:
            if self._next_pid < self.n_people and len(window) < SHUFFLE_WINDOW:
                for p in self._household(self.n_people - self._next_pid):
                    self.stats.people += 1
                    window.extend(self._person_records(p))
                continue
            if not window:
                return
            i = int(srand() * len(window))
            window[i], window[-1] = window[-1], window[i]
            rec, pid, traps, follow_up = window.pop()
            if follow_up is True or follow_up is False:
                yield rec, pid, traps, follow_up
            else:
                yield rec, pid, traps, False
                window.append((follow_up, pid, ["resend"], True))


# --- malformed lines -----------------------------------------------------------------------


def malformed_line(rng: random.Random, i: int) -> str:
    kind = i % 5
    rid = f"malformed-{i:05d}"
    if kind == 0:  # not JSON at all (truncated line)
        return '{"source": "app", "source_record_id": "' + rid + '", "observed_at": "2026-'
    if kind == 1:  # required key missing
        return json.dumps(
            {"source_record_id": rid, "observed_at": "2026-01-01T10:00:00+08:00", "identifiers": []}
        )
    if kind == 2:  # wrong types
        return json.dumps(
            {
                "source": "app",
                "source_record_id": rid,
                "observed_at": 1767225600,
                "identifiers": "phone:13812345678",
                "profile": ["not", "an", "object"],
            }
        )
    if kind == 3:  # a JSON value that is not an object
        return json.dumps(["jd_health", rid, below(rng, 1000)])
    return json.dumps(  # identifier entries of the wrong shape
        {
            "source": "wechat_mp",
            "source_record_id": rid,
            "observed_at": "2026-01-01T10:00:00+08:00",
            "identifiers": [{"type": "phone"}, {"value": 13812345678}],
        }
    )


# --- files ---------------------------------------------------------------------------------


def generate(
    people: int,
    seed: int,
    out: Path | str,
    malformed: int = 0,
    rates: dict[str, float] | None = None,
) -> Stats:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    gen = Generator(people, seed, rates)
    stats = gen.stats
    mrng = random.Random(f"cdp-records/{seed}/malformed")
    expected = max(1, int(people * MEAN_RECORDS_PER_PERSON))
    bad_at = sorted(mrng.randrange(expected) for _ in range(malformed))
    bad_i = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    by_source, trap_counts = stats.by_source, stats.traps
    # ids and trap names never need CSV quoting, so rows are plain joins; output is buffered
    # in chunks because per-line writes cost as much as generating the record
    with (
        open(out, "w", encoding="utf-8", newline="\n") as f,
        open(f"{out}.truth.csv", "w", encoding="utf-8", newline="\n") as tf,
        open(f"{out}.traps.csv", "w", encoding="utf-8", newline="\n") as xf,
    ):
        tf.write("source,source_record_id,person_id\n")
        xf.write("source,source_record_id,person_id,trap\n")
        lines: list[str] = []
        truth_rows: list[str] = []
        trap_rows: list[str] = []
        for n, (rec, pid, traps, is_resend) in enumerate(gen):
            while bad_i < len(bad_at) and bad_at[bad_i] <= n:
                lines.append(malformed_line(mrng, bad_i))
                bad_i += 1
                stats.malformed += 1
            lines.append(dumps(rec))
            src, rid = rec["source"], rec["source_record_id"]
            if is_resend:
                stats.resends += 1
                trap_counts["resend"] += 1
                trap_rows.append(f"{src},{rid},{pid},resend\n")
            else:
                stats.records += 1
                by_source[src] += 1
                truth_rows.append(f"{src},{rid},{pid}\n")
                for trap in traps:
                    trap_counts[trap] += 1
                    trap_rows.append(f"{src},{rid},{pid},{trap}\n")
            if len(lines) >= 2048:
                f.write("\n".join(lines) + "\n")
                tf.write("".join(truth_rows))
                xf.write("".join(trap_rows))
                lines.clear()
                truth_rows.clear()
                trap_rows.clear()
        while bad_i < len(bad_at):
            lines.append(malformed_line(mrng, bad_i))
            bad_i += 1
            stats.malformed += 1
        if lines:
            f.write("\n".join(lines) + "\n")
        tf.write("".join(truth_rows))
        xf.write("".join(trap_rows))
    stats.lines = stats.records + stats.resends + stats.malformed
    stats.seconds = time.perf_counter() - t0
    return stats


def _parse_rate(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=FRACTION, got {text!r}")
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if name not in DEFAULT_RATES:
        raise argparse.ArgumentTypeError(
            f"unknown trap {name!r}; known: {', '.join(sorted(DEFAULT_RATES))}"
        )
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{name} must be within [0, 1]")
    return name, v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Generate synthetic online-pharmacy source records (docs/records.md) + truth."
    )
    ap.add_argument("--people", type=int, help="number of people (default 300 with --demo)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--out", type=Path, help="output JSONL path (default var/demo/records.jsonl with --demo)"
    )
    ap.add_argument("--demo", action="store_true", help="small friendly demo set (300 people)")
    ap.add_argument(
        "--malformed", type=int, default=0, metavar="K", help="insert K malformed lines"
    )
    ap.add_argument(
        "--rate",
        type=_parse_rate,
        action="append",
        default=[],
        metavar="TRAP=FRACTION",
        help=f"override a trap rate; traps: {', '.join(sorted(DEFAULT_RATES))}",
    )
    args = ap.parse_args(argv)
    people = args.people if args.people is not None else (300 if args.demo else None)
    out = args.out or (Path("var/demo/records.jsonl") if args.demo else None)
    if people is None or out is None:
        ap.error("--people and --out are required (or use --demo)")
    if people < 1 or args.malformed < 0:
        ap.error("--people must be >= 1 and --malformed >= 0")
    stats = generate(people, args.seed, out, malformed=args.malformed, rates=dict(args.rate))
    print(stats.summary(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
