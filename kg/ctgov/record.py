"""A raw API v2 record as the mapping reads it: typed access that names the exact field on a mistake."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kg.errors import KgError

__all__ = ["RawStudy", "RecordError", "RecordNode"]

RawStudy = dict[str, Any]


class RecordError(KgError, ValueError):
    """A record that cannot be mapped faithfully; the message names the offending field."""


class RecordNode:
    """A JSON object with its path, so type errors name the exact field."""

    __slots__ = ("data", "path")

    def __init__(self, data: object, path: str) -> None:
        if type(data) is not dict and not isinstance(data, Mapping):  # parsed JSON is dicts: skip the ABC check
            raise RecordError(f"{path}: expected an object, got {type(data).__name__}")
        self.data = data
        self.path = path

    def _typed(self, key: str, kinds: tuple[type, ...], what: str) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise RecordError(f"{self.path}.{key}: expected {what}, got {type(value).__name__} {value!r:.60}")
        return value

    def text(self, key: str) -> str | None:
        value = self._typed(key, (str,), "a string")
        return value if value and not value.isspace() else None

    def integer(self, key: str) -> int | None:
        return self._typed(key, (int,), "an integer")

    def number(self, key: str) -> float | None:
        value = self._typed(key, (int, float), "a number")
        return None if value is None else float(value)

    def flag(self, key: str) -> bool | None:
        return self._typed(key, (bool,), "true or false")

    def obj(self, key: str) -> RecordNode:
        value = self.data.get(key)
        return RecordNode({} if value is None else value, f"{self.path}.{key}")

    def objs(self, key: str) -> Iterator[RecordNode]:
        for index, item in enumerate(self._typed(key, (list,), "a list") or []):
            yield RecordNode(item, f"{self.path}.{key}[{index}]")

    def texts(self, key: str) -> list[str]:
        items = self._typed(key, (list,), "a list") or []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise RecordError(f"{self.path}.{key}[{index}]: expected a string, got {type(item).__name__}")
        return [item for item in items if item]
