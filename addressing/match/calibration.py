"""Calibrated confidence: of the answers given confidence >= c, at least a share c is right.

Owns the map from a match's raw score to its confidence, per kind of answer.

A match's raw score (``raw_score``: the score, discounted when a rival elsewhere is close) goes
through a monotone map fitted on held-out data, one map per kind of answer (``STRATA``), by
``benchmarks/match_accuracy.py --fit``: isotonic regression, each block replaced by the lower
95% bound of its share right. The maps live in ``addressing/data/calibration.json``; without
it, timid defaults apply.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np

from addressing.schema import Precision

#: one map per kind of answer: an address point; a position interpolated between the known
#: numbered points either side (or at the integer part of a number); a position interpolated
#: along a TIGER range; only the street (the number is outside every known range)
RANGE = "interpolated_range"
WIDE = "interpolated_wide"          # between numbered points far apart (``scoring.WIDE_GAP_M``)
STRATA = (Precision.ADDRESS_POINT.value, Precision.INTERPOLATED.value, WIDE, RANGE, Precision.STREET.value)
#: used when addressing/data/calibration.json is absent: deliberately timid
DEFAULT_CALIBRATION = {
    Precision.ADDRESS_POINT.value: ([0.0, 0.72, 0.9, 1.0], [0.0, 0.3, 0.6, 0.9]),
    Precision.INTERPOLATED.value: ([0.0, 0.72, 1.0], [0.0, 0.2, 0.6]),
    WIDE: ([0.0, 0.72, 1.0], [0.0, 0.2, 0.6]),
    RANGE: ([0.0, 0.72, 1.0], [0.0, 0.2, 0.6]),
    Precision.STREET.value: ([0.0, 1.0], [0.0, 0.2]),
}


@cache
def _calibration_file() -> dict:
    try:
        text = resources.files("addressing").joinpath("data/calibration.json").read_text()
    except (FileNotFoundError, OSError):
        return {}
    return json.loads(text).get("strata", {})


@cache
def calibration(stratum: str = Precision.ADDRESS_POINT.value) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear, non-decreasing map from ``raw_score`` to calibrated confidence for
    answers of one precision, fitted on held-out data by ``benchmarks/match_accuracy.py --fit``
    (``addressing/data/calibration.json``); a timid default where it has none."""
    fitted = _calibration_file().get(stratum)
    if fitted:
        return np.asarray(fitted["raw"], float), np.asarray(fitted["confidence"], float)
    xs, ys = DEFAULT_CALIBRATION.get(stratum, DEFAULT_CALIBRATION[Precision.STREET.value])
    return np.asarray(xs, float), np.asarray(ys, float)


def reload_calibration() -> None:
    """Forget the loaded maps (after ``calibration.json`` was rewritten)."""
    _calibration_file.cache_clear()
    calibration.cache_clear()


#: the rival discount of ``raw_score``, set by hand (the maps fitted on top of it absorb its
#: scale): a rival at the same score leaves ``RIVAL_FLOOR`` of the score, and the discount is
#: gone once the lead reaches (1 - RIVAL_FLOOR) / RIVAL_SLOPE = 0.1
RIVAL_FLOOR = 0.6
RIVAL_SLOPE = 4.0


def raw_score(score: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """What the calibration maps: the match score, discounted when a rival elsewhere is close.

    >>> raw_score(np.array([0.95, 0.95]), np.array([1.0, 0.0])).round(3).tolist()
    [0.95, 0.57]
    """
    score = np.asarray(score, float)
    margin = np.asarray(margin, float)
    return score * np.minimum(1.0, RIVAL_FLOOR + RIVAL_SLOPE * np.clip(margin, 0, None))


def calibrate(raw: np.ndarray, stratum: np.ndarray | list | str = Precision.ADDRESS_POINT.value) -> np.ndarray:
    """Calibrated confidence of raw scores, each through the map of its kind of answer.

    >>> calibrate(np.array([]), []).size
    0
    """
    raw = np.asarray(raw, float)
    strata = np.broadcast_to(np.asarray(stratum, dtype=object), raw.shape)
    out = np.zeros(raw.shape)
    for stratum in set(strata.tolist()):
        sel = strata == stratum
        xs, ys = calibration(stratum)
        out[sel] = np.interp(raw[sel], xs, ys)
    return out
