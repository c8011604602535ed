"""Python values by string key, packed for an index that holds hundreds of thousands of them.

Each value is pickled and compressed alone against a preset dictionary made of other values' pickles, and the keys
are kept sorted in one array: about 100 bytes a value, unpacked in microseconds, and no Python object per value held
(the garbage collector has nothing to walk). The trial facts index packs a value per trial, the concept facts index
one per MeSH concept.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["Packed"]

#: Each trial's facts are pickled (about 370 bytes at 10k synthetic trials) and compressed alone against a preset
#: dictionary of other trials' (97 bytes, unpacked in 8 µs); blocks of 32 trials compressed together took 127 bytes
#: a trial and 166 µs to reach one. The dictionary is the end of the pickles of values spread over the keys.
_DICTIONARY_VALUES: Final = 256
_WINDOW: Final = 32 * 1024  # what zlib reads of a preset dictionary


@dataclass(frozen=True)
class Packed:
    """Values by key (ASCII strings), each pickled and compressed against ``dictionary``."""

    keys: npt.NDArray[np.bytes_]  # sorted
    offsets: npt.NDArray[np.int64]  # key i's slice of blob: offsets[i]:offsets[i + 1]
    blob: bytes
    dictionary: bytes

    @classmethod
    def pack(cls, keys: Iterable[str], value: Callable[[str], Any]) -> Packed:
        """Pack ``value(key)`` of each key (distinct ASCII strings), computed as it is packed, so that the values are
        never all held at once."""
        order = sorted(keys)

        def pickled(key: str) -> bytes:
            return pickle.dumps(value(key), protocol=pickle.HIGHEST_PROTOCOL)

        spread = order[:: max(1, len(order) // _DICTIONARY_VALUES)]
        dictionary = b"".join(pickled(key) for key in spread)[-_WINDOW:]
        blob = bytearray()
        offsets = [0]
        for key in order:
            packer = zlib.compressobj(level=9, zdict=dictionary)
            blob += packer.compress(pickled(key)) + packer.flush()
            offsets.append(len(blob))
        keys_array = np.array([key.encode("ascii") for key in order], dtype=np.bytes_)
        return cls(keys_array, np.asarray(offsets, dtype=np.int64), bytes(blob), dictionary)

    def get(self, key: str) -> Any | None:
        """The value packed under ``key``, None when there is none."""
        encoded = key.encode("ascii", "replace")
        position = int(np.searchsorted(self.keys, encoded))
        if position == len(self.keys) or self.keys[position] != encoded:
            return None
        packed = self.blob[self.offsets[position] : self.offsets[position + 1]]
        return pickle.loads(zlib.decompressobj(zdict=self.dictionary).decompress(packed))

    def __len__(self) -> int:
        return len(self.keys)
