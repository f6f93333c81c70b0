"""The project's errors that a page translates: one English sentence, a key and the values it mentions.

`str(err)` is the sentence for English and for logs; `key` picks the sentence in the EN/KO table and `params`
fill it, so a page can say the same in Korean. Subclasses list their keys in `KEYS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["KeyedError"]


class KeyedError(ValueError):
    """A problem with what a person gave (an image, a checkpoint, an image set), said in one sentence.

    Attributes:
        key: What went wrong, one of the class's `KEYS`.
        params: The values the sentence mentions, for a translation.
    """

    KEYS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str, *, key: str, params: Mapping[str, Any] | None = None) -> None:
        if key not in self.KEYS:
            raise ValueError(f"key must be one of {self.KEYS}, got {key!r}")
        super().__init__(message)
        self.key = key
        self.params: dict[str, Any] = dict(params or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are lost by the default exception pickling (caches, processes): keep them.
        return (_rebuild, (type(self), str(self), self.key, self.params))


def _rebuild(cls: type[KeyedError], message: str, key: str, params: dict[str, Any]) -> KeyedError:
    return cls(message, key=key, params=params)
