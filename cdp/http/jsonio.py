"""Flask's JSON provider with bounded parsing and orjson-encoded response bodies."""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as BaseResponse

# What orjson cannot encode the way Flask does (datetime as an HTTP date, Decimal, integers
# past 64 bits, subclasses of str or dict) goes to Flask's encoder.
_ORJSON_OPTS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with two changes.

    - Nesting too deep to parse is bad input (a ValueError, so ``get_json`` treats it as
      malformed JSON: 4xx), not a RecursionError (500).
    - Compact response bodies are encoded by orjson: the same JSON as Flask's encoder with
      ``ensure_ascii`` and ``sort_keys`` off, at a fraction of the cost on the read path.
      Anything else (sorted keys, ASCII-only output, indented debug output) goes through
      Flask's encoder.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        compact = not ((self.compact is None and self._app.debug) or self.compact is False)
        if not compact or self.sort_keys or self.ensure_ascii:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default, option=_ORJSON_OPTS)
        except orjson.JSONEncodeError:
            # e.g. an integer past 64 bits, or a default() raising: Flask's encoder decides.
            return super().response(*args, **kwargs)
        # The provider types its app as Flask's sans-IO base; it is a Flask app, whose
        # response class takes a body.
        response_class = cast("type[Response]", self._app.response_class)
        return response_class(body + b"\n", mimetype=self.mimetype)
