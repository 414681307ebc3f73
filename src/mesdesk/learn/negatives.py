"""Hard negatives: places in feature space where resolved outcomes of a setup lose.

Every resolved outcome (taken or counterfactual) is kept as a point in a scaled feature space, per
(setup, direction). A new candidate's neighbourhood is the set of points within `radius`
(Euclidean distance over the scaled features below). When the neighbourhood has at least
`min_neighbors` outcomes and the 95% upper bound of their mean pnl is below zero, the candidate
matches a hard negative: the journal names the nearest losing outcome and the neighbourhood's size
and mean, and the candidate is vetoed (`action="veto"`) or its prefilter score is marked down
(`action="markdown"`).

Scaled features (a distance of 1 is "one bucket apart"): prefilter score / 10, log2 of the volume
multiple, distance to VWAP in ATRs, distance to the EMA in ATRs, minutes since open / 60.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from mesdesk.learn.stats import t_quantile

FEATURES = ("prefilter_score", "volume_multiple", "dist_vwap_atr", "dist_ema_atr", "minutes_since_open")


@dataclass(frozen=True, slots=True)
class NegativeConfig:
    radius: float = 1.0
    min_neighbors: int = 8
    action: str = "veto"  # or "markdown"
    markdown_points: float = 15.0

    def __post_init__(self) -> None:
        if self.radius <= 0 or self.min_neighbors < 2:
            raise ValueError("NegativeConfig: radius must be > 0 and min_neighbors >= 2")
        if self.action not in ("veto", "markdown"):
            raise ValueError(f"NegativeConfig.action must be veto or markdown, got {self.action!r}")


def scaled_vector(features: Mapping[str, float]) -> np.ndarray:
    """The candidate's point in the scaled space (NaN features count as 0 distance on that axis)."""
    f = features.get
    vm = f("volume_multiple")
    vec = np.array(
        [
            (f("prefilter_score") or 0.0) / 10.0,
            math.log2(vm) if vm is not None and math.isfinite(vm) and vm > 0 else math.nan,
            f("dist_vwap_atr", math.nan),
            f("dist_ema_atr", math.nan),
            (f("minutes_since_open", math.nan)) / 60.0,
        ],
        dtype=np.float64,
    )
    return vec


@dataclass(frozen=True, slots=True)
class NegativeMatch:
    """A hard-negative hit: the nearest losing outcome and what the neighbourhood says."""

    nearest_loss_key: str
    neighbors: int
    mean_pnl_pts: float
    upper_pnl_pts: float
    distance: float


class NegativeIndex:
    """Points of resolved outcomes per (setup, direction), grown in place (amortised O(1) append)."""

    def __init__(self, config: NegativeConfig) -> None:
        self.config = config
        self._points: dict[tuple[str, str], np.ndarray] = {}
        self._pnl: dict[tuple[str, str], np.ndarray] = {}
        self._keys: dict[tuple[str, str], list[str]] = {}
        self._size: dict[tuple[str, str], int] = {}
        self._trees: dict[tuple[str, str], tuple[cKDTree, int]] = {}

    def __len__(self) -> int:
        return sum(self._size.values())

    def add(self, setup: str, direction: str, key: str, features: Mapping[str, float], pnl_pts: float) -> None:
        group = (setup, direction)
        n = self._size.get(group, 0)
        pts = self._points.get(group)
        if pts is None or n == pts.shape[0]:
            cap = max(64, 2 * n)
            new_pts = np.empty((cap, len(FEATURES)))
            new_pnl = np.empty(cap)
            if pts is not None:
                new_pts[:n] = pts[:n]
                new_pnl[:n] = self._pnl[group][:n]
            self._points[group], self._pnl[group] = new_pts, new_pnl
            self._keys.setdefault(group, [])
        vec = scaled_vector(features)
        vec[~np.isfinite(vec)] = 0.0
        self._points[group][n] = vec
        self._pnl[group][n] = pnl_pts
        self._keys[group].append(key)
        self._size[group] = n + 1

    def match(self, setup: str, direction: str, features: Mapping[str, float]) -> NegativeMatch | None:
        group = (setup, direction)
        n = self._size.get(group, 0)
        if n < self.config.min_neighbors:
            return None
        q = scaled_vector(features)
        axes = np.isfinite(q)
        points = self._points[group][:n]
        if axes.all():
            near = self._near(group, n, q)
            diff = points[near] - q
        else:  # a missing feature: compare on the known axes only (rare, brute force)
            diff_all = points[:, axes] - q[axes]
            near = np.flatnonzero(np.einsum("ij,ij->i", diff_all, diff_all) <= self.config.radius**2)
            diff = diff_all[near]
        dist2_near = np.einsum("ij,ij->i", diff, diff)
        k = near.size
        if k < self.config.min_neighbors:
            return None
        pnl = self._pnl[group][near]
        mean = float(pnl.mean())
        sd = float(pnl.std(ddof=1))
        upper = mean + t_quantile(0.975, k - 1) * sd / math.sqrt(k)
        if upper >= 0.0:
            return None
        loss_pos = np.flatnonzero(pnl < 0.0)
        best = int(loss_pos[np.argmin(dist2_near[loss_pos])])
        nearest = int(near[best])
        return NegativeMatch(self._keys[group][nearest], int(k), mean, upper, float(math.sqrt(dist2_near[best])))

    def _near(self, group: tuple[str, str], n: int, q: np.ndarray) -> np.ndarray:
        """Indices within the radius: a k-d tree over most points, brute force over the newest."""
        tree, indexed = self._trees.get(group, (None, 0))
        if tree is None or n - indexed > max(256, indexed // 4):
            tree, indexed = cKDTree(self._points[group][:n].copy()), n
            self._trees[group] = (tree, indexed)
        r = self.config.radius
        found = np.asarray(tree.query_ball_point(q, r, return_sorted=True), dtype=np.int64)
        if n > indexed:
            tail = self._points[group][indexed:n] - q
            extra = np.flatnonzero(np.einsum("ij,ij->i", tail, tail) <= r * r) + indexed
            found = np.concatenate((found, extra))
        return found
