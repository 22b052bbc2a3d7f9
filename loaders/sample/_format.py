"""Vectorised formatting of Salesforce ids, datetimes, dates and numbers as Data Loader writes them."""

from __future__ import annotations

import numpy as np

DAY = 86_400

_ALPHABET = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_CHECKSUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
# Characters 4-6 of a real id encode the pod and a reserved digit; a fixed value keeps ids looking like one org's.
_POD = np.frombuffer(b"5g0", dtype=np.uint8)
# Counters start high enough that the base-62 tail has mixed case (and so a varied checksum) from the first
# record; each key prefix gets its own offset because objects do not share a sequence in a real org.
_COUNTER_BASE = 2_400_000_000
_PREFIX_STRIDE = 37_000_000
_COUNTER_DIGITS = 9


def sf_ids(prefix: str, counters: np.ndarray) -> np.ndarray:
    """Build 18-character Salesforce ids: key prefix, pod, base-62 counter and the case-safe checksum.

    The last three characters follow Salesforce's algorithm (one character per 5-character chunk, encoding which
    characters of the chunk are upper case), so a loader can validate or convert 15/18-character ids for real.

    Args:
        prefix: Three-character key prefix such as ``"001"``.
        counters: Non-negative integer counters; distinct counters give distinct ids.

    Returns:
        Array of ``str`` ids (dtype ``<U18``) in the order of ``counters``.
    """
    counters = np.asarray(counters, dtype=np.int64)
    n = counters.shape[0]
    buf = np.empty((n, 18), dtype=np.uint8)
    buf[:, 0:3] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    buf[:, 3:6] = _POD
    rest = counters + _COUNTER_BASE + _PREFIX_STRIDE * (int.from_bytes(prefix.encode("ascii"), "big") % 101)
    for pos in range(6 + _COUNTER_DIGITS - 1, 5, -1):
        buf[:, pos] = _ALPHABET[rest % 62]
        rest //= 62
    upper = (buf[:, :15] >= ord("A")) & (buf[:, :15] <= ord("Z"))
    bit = np.array([1, 2, 4, 8, 16], dtype=np.int64)
    for chunk in range(3):
        buf[:, 15 + chunk] = _CHECKSUM[upper[:, chunk * 5:(chunk + 1) * 5] @ bit]
    return buf.view("S18").ravel().astype("U18")


def fmt_datetime(seconds: np.ndarray) -> np.ndarray:
    """Format epoch seconds as Data Loader datetimes, e.g. ``2025-03-04T10:15:00.000Z``.

    Args:
        seconds: Integer epoch seconds (UTC).

    Returns:
        Array of strings.
    """
    text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")
    return np.char.add(text, ".000Z")


def fmt_date(days: np.ndarray) -> np.ndarray:
    """Format epoch days as ISO dates, e.g. ``2025-03-04``.

    Args:
        days: Integer days since 1970-01-01.

    Returns:
        Array of strings.
    """
    return np.datetime_as_string(np.asarray(days, dtype="datetime64[D]"), unit="D")


def fmt_money(cents: np.ndarray) -> list[str]:
    """Format integer cents with two decimals (``1234.50``); exact because cents < 2**53.

    Args:
        cents: Integer amounts in cents.

    Returns:
        List of strings.
    """
    return [f"{c:.2f}" for c in (np.asarray(cents, dtype=np.int64) / 100).tolist()]


def fmt_bool(flags: np.ndarray) -> np.ndarray:
    """Format booleans as Salesforce does (``true`` / ``false``).

    Args:
        flags: Boolean array.

    Returns:
        Array of strings.
    """
    return np.where(np.asarray(flags, dtype=bool), "true", "false")


def fmt_int(values: np.ndarray) -> np.ndarray:
    """Format integers without separators.

    Args:
        values: Integer array.

    Returns:
        Array of strings.
    """
    return np.asarray(values, dtype=np.int64).astype(str)
