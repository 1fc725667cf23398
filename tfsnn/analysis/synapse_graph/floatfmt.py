"""Vectorised float formatting for the CSV writer: 7 significant digits, no Python per value.

A value is written ``[-]d[.dddddd]e(+|-)dd[d]`` and a newline, trailing fraction zeros dropped;
zero is ``0``, non-finite values ``nan``, ``inf``, ``-inf``. With ``e = floor(log10|x|)`` the
mantissa is the integer ``m = round(|x| * 10**(6 - e))`` in ``[10**6, 10**7)``, so a value
reads back with a relative error of at most 5e-7.

The text is built as zero-padded little-endian ``uint64`` words: removing all zero bytes
(``bytes.translate``) yields the CSV text. Field bytes are looked up in small tables and
combined with integer arithmetic.
"""

from __future__ import annotations

import numpy as np

#: uint64 words per formatted value (16 bytes, the newline included)
FLOAT_WORDS = 2


def _text_table(texts: list[bytes]) -> np.ndarray:
    """Texts of up to 8 bytes as little-endian integers (byte ``i`` in bits ``8i .. 8i+7``)."""
    buf = np.zeros((len(texts), 8), np.uint8)
    for i, t in enumerate(texts):
        buf[i, : len(t)] = np.frombuffer(t, np.uint8)
    return buf.view("<i8").reshape(-1).astype(np.int64)


# three fraction digits: [0, 1000) all of them, [1000, 2000) with trailing zeros dropped
# ("500" -> "5", "000" -> ""), used when no digits follow
_FRAC3 = _text_table([f"{i:03d}".encode() for i in range(1000)]
                     + [f"{i:03d}".rstrip("0").encode() for i in range(1000)])
_EXP_OFFSET = 400
# exponent and the row's newline: "e-05\n", "e+00\n", "e-100\n"
_EXP_NL = _text_table([f"e{k:+03d}\n".encode() for k in range(-_EXP_OFFSET, _EXP_OFFSET + 1)])
_POW10_OFFSET = 340
_POW10 = np.array([float(f"1e{k}") for k in range(-_POW10_OFFSET, _POW10_OFFSET + 1)])
_ZERO_W0 = ord("0") << 8
_NL_W1 = ord("\n") << 8


def _scale_to_mantissa(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``a * 10**(6 - e)`` (in two steps where one power of ten would overflow)."""
    k = 6 - e
    if len(k) and (k.max() > 300 or k.min() < -300):
        k1 = k // 2
        return a * _POW10.take(k1 + _POW10_OFFSET) * _POW10.take(k - k1 + _POW10_OFFSET)
    return a * _POW10.take(k + _POW10_OFFSET)


def _exponent_mantissa(safe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``e = floor(log10 a)`` and ``m = round(a * 10**(6 - e))`` in ``[10**6, 10**7)`` of
    positive finite ``a``."""
    e = np.floor(np.log10(safe)).astype(np.int64)
    m = np.rint(_scale_to_mantissa(safe, e)).astype(np.int64)
    if len(m) and (m.max() >= 10_000_000 or m.min() < 1_000_000):
        # log10 off by one near powers of ten, or rounded up to 10.000000
        idx = np.flatnonzero((m >= 10_000_000) | (m < 1_000_000))
        e[idx] += (m[idx] >= 10_000_000) * 2 - 1
        m[idx] = np.rint(_scale_to_mantissa(safe[idx], e[idx])).astype(np.int64)
        over = idx[m[idx] >= 10_000_000]  # only a round-up to 10**7 can still overflow
        e[over] += 1
        m[over] = 1_000_000
    return e, m


def _text_words(x: np.ndarray, e: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two words of each value. Byte layout (zeros are removed later): word 0 = sign, lead
    digit, dot, fraction digits 1-5; word 1 = fraction digit 6, exponent, newline."""
    lead = m // 1_000_000  # scalar ``//`` is fast; np.divmod is not
    frac = m - lead * 1_000_000
    hi = frac // 1000
    lo = frac - hi * 1000
    hi_text = _FRAC3.take(hi + (lo == 0) * 1000)
    lo_text = _FRAC3.take(lo + 1000)
    w0 = (x < 0) * ord("-")
    w0 |= (lead + ord("0")) << 8
    w0 |= (frac != 0) * (ord(".") << 16)
    w0 |= hi_text << 24
    w0 |= (lo_text & 0xFFFF) << 48
    w1 = _EXP_NL.take(e + _EXP_OFFSET) << 8
    w1 |= lo_text >> 16
    return w0, w1


def format_float_words(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Format values with 7 significant digits as ``(n, 2)`` uint64 words of zero-padded text
    (see the module docstring). ``out``: an ``(n, 2)`` uint64 array (or view) to write into."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    a = np.abs(x)
    finite = np.isfinite(a)
    all_finite = bool(finite.all())
    nz = a != 0
    if not all_finite:
        nz &= finite
    all_nz = bool(nz.all())
    safe = a
    if not all_nz:
        zero = ~nz
        safe = a + zero if all_finite else np.where(nz, a, 1.0)  # 1.0 where no digits
    w0, w1 = _text_words(x, *_exponent_mantissa(safe))
    if not all_nz:  # zero: "0" (arithmetic, not masked stores: those are slow on random masks)
        w0 *= nz
        w0 += zero * _ZERO_W0
        w1 *= nz
        w1 += zero * _NL_W1
    words = np.empty((len(x), FLOAT_WORDS), np.uint64) if out is None else out
    view = words.view(np.int64)
    view[:, 0] = w0
    view[:, 1] = w1
    if not all_finite:
        for i in np.flatnonzero(~finite):
            text = repr(float(x[i])).encode()  # 'nan', 'inf', '-inf'
            view[i] = _text_table([text + b"\n"])[0], 0
    return words


def format_floats(x: np.ndarray) -> list[str]:
    """The CSV text of each value (for inspection and tests)."""
    words = format_float_words(x)
    text = words.tobytes().translate(None, b"\0").decode()
    return text.split("\n")[:-1]
