"""Independent random streams derived from the one ``seed`` every experiment has.

Adding offsets (``seed + 1``) makes streams of neighbouring seeds collide (seed 0's second stream is
seed 1's first); hashing a stream name into a :class:`numpy.random.SeedSequence` does not.

Example:
    >>> stream_seed(0, "audit-mlp-fold0") == stream_seed(0, "audit-mlp-fold0")
    True
    >>> stream_seed(0, "audit-mlp-fold1") == stream_seed(1, "audit-mlp-fold0")
    False
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_seed(seed: int, name: str) -> int:
    """A reproducible seed for the random stream called ``name`` under ``seed`` (a 32-bit integer)."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])
