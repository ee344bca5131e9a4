"""IPv4 and IPv6 addresses, validated by the standard library's ``ipaddress``."""

from __future__ import annotations

import ipaddress
import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from cdp.pii.entities import IP_ADDRESS
from cdp.pii.recognizers.base import CdpRecognizer, preceded_by_reference

_V4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_V6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])")


class IpRecognizer(CdpRecognizer):
    ENTITIES = (IP_ADDRESS,)
    CONTEXT = ("ip", "登录", "地址", "login", "address", "from")

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results = []
        if "." in text:
            for m in _V4.finditer(text):
                try:
                    ipaddress.IPv4Address(m.group())
                except ValueError:
                    continue
                if preceded_by_reference(text, m.start()):
                    continue
                results.append(self.result(IP_ADDRESS, m.start(), m.end(), 0.7, "IPv4"))
        if text.count(":") >= 2:
            for m in _V6.finditer(text):
                try:
                    ipaddress.IPv6Address(m.group())
                except ValueError:
                    continue
                results.append(self.result(IP_ADDRESS, m.start(), m.end(), 0.75, "IPv6"))
        return results
