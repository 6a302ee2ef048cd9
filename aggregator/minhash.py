"""Words -> a `Fingerprint`: the MinHash half of story fingerprints (fingerprint.py).

Responsible for: the 64-bit hashes of a text's word SHINGLE-grams, the bottom-SKETCH
sketch of their top halves (the stored signature, to verify a candidate) and the LSH
band keys of a one-permutation MinHash of them (BINS bins with densification, BANDS
bands of ROWS) to find candidates.

Must not: choose the words (fingerprint.py does), do any I/O, or change a constant or
a formula lightly: signatures and band keys are stored, so a change makes new entries
miss the stories of the last window. Hashes are computed here, never with Python's
`hash()`, so that every process and every instance agrees; tests/test_stored_values.py
pins some.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence

from aggregator.types import Fingerprint

SHINGLE = 3  # words per shingle
SKETCH = 128  # bottom-k sketch size: the stored signature, for verification
BINS = 60  # one-permutation MinHash bins, for the LSH bands
ROWS = 3  # MinHash values per LSH band (BANDS = 20 bands)
BANDS = BINS // ROWS
MIN_SHINGLES = 16  # shorter texts get no fingerprint: they are never merged by text

_EMPTY = 1 << 32
_MASK64 = (1 << 64) - 1


def _hash64(data: str) -> int:
    digest = hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


_K1, _K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F  # the shingle hash's two odd constants
# word -> its hash, and that hash times _K1 and times _K2 (mod 2**64): a shingle's hash
# is then a sum of three. A worker sees the same words all day.
_TOKENS: dict[str, int] = {}
_TOKENS_K1: dict[str, int] = {}
_TOKENS_K2: dict[str, int] = {}
_TOKENS_MAX = 200_000


def _learn_tokens(words: Iterable[str]) -> None:
    if len(_TOKENS) > _TOKENS_MAX:
        _TOKENS.clear()
        _TOKENS_K1.clear()
        _TOKENS_K2.clear()
    for word in set(words).difference(_TOKENS):
        value = _TOKENS[word] = _hash64(word)
        _TOKENS_K1[word] = value * _K1 & _MASK64
        _TOKENS_K2[word] = value * _K2 & _MASK64


def _densify_order() -> tuple[tuple[int, ...], ...]:
    """For each bin, the bins an empty one borrows from, in order (fixed forever)."""
    order = []
    for index in range(BINS):
        stream = hashlib.shake_128(f"densify:{index}".encode()).digest(4 * BINS)
        order.append(tuple(b % BINS for b in stream if b % BINS != index))
    return tuple(order)


_BORROW = _densify_order()
_BAND_SEEDS = tuple((band + 1) * _K1 & _MASK64 for band in range(BANDS))
assert ROWS == 3 and BINS == BANDS * ROWS  # band_keys is unrolled for this


def shingles(words: Sequence[str]) -> set[int]:
    """64-bit hashes of the word SHINGLE-grams: a multiply-add of the words' random
    64-bit hashes with two odd constants (each shingle's hash is as random as its words'
    are; the ~0.15 us per shingle that this costs is a third of the fingerprint's)."""
    try:
        return _shingles(words)
    except KeyError:  # a word not seen yet (most are: the cache is checked as it goes)
        _learn_tokens(words)
        return _shingles(words)


def _shingles(words: Sequence[str]) -> set[int]:
    # (a * _K1 + b * _K2 + c) mod 2**64 for consecutive words a, b, c, with the products
    # looked up: a sum of residues has the same residue.
    firsts = map(_TOKENS_K1.__getitem__, words)
    seconds = map(_TOKENS_K2.__getitem__, words[1:])
    thirds = map(_TOKENS.__getitem__, words[2:])
    mask = _MASK64
    return {(a + b + c) & mask for a, b, c in zip(firsts, seconds, thirds, strict=False)}


def _minhash(tops: Sequence[int]) -> list[int]:
    """One-permutation MinHash over ascending distinct 32-bit values: the value's residue
    picks its bin, the first (smallest) value of each bin is its minimum. An empty bin
    takes the value of the first filled bin in its fixed borrowing order (densification).
    """
    minima = {top % BINS: top for top in reversed(tops)}  # the smallest is written last
    if len(minima) == BINS or not minima:
        return [minima.get(index, _EMPTY) for index in range(BINS)]
    first = min(minima)  # the donor of last resort
    result = []
    for index in range(BINS):
        donor = index
        if donor not in minima:
            donor = next((j for j in _BORROW[index] if j in minima), first)
        result.append(minima[donor])
    return result


def band_keys(values: Sequence[int]) -> tuple[int, ...]:
    """One signed 64-bit key per band of ROWS MinHash values (the band's number in it).

    Per band, from key = band + 1: key = (key * _K1 ^ value) mod 2**64 for each of its
    values, then a finalising mix. Unrolled for ROWS == 3 and the values' residues
    (below 2**64), with the first step of each band precomputed (`_BAND_SEEDS`)."""
    keys = []
    k1, mix, mask = _K1, 0xBF58476D1CE4E5B9, _MASK64
    for seed, a, b, c in zip(_BAND_SEEDS, values[0::3], values[1::3], values[2::3], strict=True):
        key = (((((seed ^ a) * k1) & mask) ^ b) * k1 & mask) ^ c
        key = ((key ^ (key >> 31)) * mix) & mask
        key ^= key >> 29
        keys.append(key - (1 << 64) if key >= 1 << 63 else key)
    return tuple(keys)


def sketch(tops: Sequence[int]) -> bytes:
    """Bottom-k sketch: the SKETCH smallest of ascending distinct 32-bit values, packed.

    A text with no more than SKETCH shingles is kept whole, so its resemblance to
    another such text is computed exactly, not estimated.
    """
    smallest = tops[:SKETCH]
    return struct.pack(f"<{len(smallest)}I", *smallest)


def unpack(packed: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(packed) // 4}I", packed)


def fingerprint_words(words: Sequence[str]) -> Fingerprint | None:
    """The fingerprint of these words, or None when they make too few shingles."""
    hashes = shingles(words)
    if len(hashes) < MIN_SHINGLES:
        return None
    tops = sorted({h >> 32 for h in hashes})
    return Fingerprint(sketch(tops), band_keys(_minhash(tops)), size=len(hashes))
