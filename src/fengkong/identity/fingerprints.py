"""How common a fingerprint is, learned online: evidence about devices, not their identity.

A fingerprint *cluster* is what a device renders and reports about its hardware:
platform (HarmonyOS as android), model, screen, canvas and WebGL hashes. Thousands of
honest phones of one model and OS share a cluster; a farm's phones (or one phone
resetting its ``device_id`` for every account) share a *rare* one. So the question is
never "how many device ids behind this fingerprint" but "how many more than this
fingerprint normally carries":

* ``fingerprint.commonness``: the cluster's share of all device ids seen in 30 days
  (before the last hour, so a burst does not raise its own base);
* ``fingerprint.device_ids_1h`` / ``_24h`` / ``_30d``, ``fingerprint.users_24h`` / ``_30d``;
* ``fingerprint.expected_device_ids_1h``: commonness × distinct device ids seen in the
  last hour across all clusters; ``fingerprint.device_lift_1h``: observed / max(expected, 1).

A rare cluster behind 20 fresh device ids in an hour has a lift near 20; a popular model
behind 1,000 phones has a lift near 1. Everything is point in time: :meth:`read` before
:meth:`see` of the same event.
"""

from __future__ import annotations

import hashlib

from fengkong.events import Device
from fengkong.features.windows import DistinctWindows
from fengkong.identity.device import FeatureValue, device_key, normal_platform, usable_device_id

HOUR = 3600
DAY = 86_400
LONG = 30 * DAY
# Below this many device ids seen before the last hour, shares are not trusted yet.
MIN_HISTORY_DEVICES = 50

FEATURE_NAMES: dict[str, str] = {
    "fingerprint.cluster": "str",
    "fingerprint.commonness": "num",
    "fingerprint.device_ids_1h": "num",
    "fingerprint.device_ids_24h": "num",
    "fingerprint.device_ids_30d": "num",
    "fingerprint.users_24h": "num",
    "fingerprint.users_30d": "num",
    "fingerprint.expected_device_ids_1h": "num",
    "fingerprint.device_lift_1h": "num",
    "fingerprint.is_new_device_id": "bool",
}


def fingerprint_cluster(device: Device | None) -> str | None:
    """The cluster key of a device's fingerprint; ``None`` without rendering evidence."""
    if device is None or device.fingerprint is None:
        return None
    fp = device.fingerprint.__dict__  # the declared fields: one model attribute read
    if not (fp["canvas_hash"] or fp["webgl_hash"]):
        return None
    parts = (
        normal_platform(fp["platform"]),
        fp["model"],
        fp["screen"],
        fp["canvas_hash"],
        fp["webgl_hash"],
    )
    data = "\x1f".join(str(p or "") for p in parts).encode()
    return "fp_" + hashlib.blake2b(data, digest_size=8).hexdigest()


class _Cluster:
    __slots__ = ("devices", "long_devices", "users")

    def __init__(self) -> None:
        self.devices = DistinctWindows((HOUR, DAY))
        self.long_devices = DistinctWindows((HOUR, LONG), throttle_s=HOUR)
        self.users = DistinctWindows((DAY, LONG), throttle_s=HOUR)


class FingerprintStats:
    """Per-cluster distinct device ids and users over windows, and the global totals."""

    def __init__(self) -> None:
        self.clusters: dict[str, _Cluster] = {}
        self.total = DistinctWindows((HOUR, LONG), throttle_s=HOUR)
        self._last_seen: dict[str, float] = {}

    def read(
        self, cluster: str | None, device_id: str | None, now: float
    ) -> dict[str, FeatureValue]:
        """The ``fingerprint.*`` features of an event, from the state before it."""
        out: dict[str, FeatureValue] = dict.fromkeys(FEATURE_NAMES)
        if cluster is None:
            return out
        out["fingerprint.cluster"] = cluster
        c = self.clusters.get(cluster)
        total_1h, total_30d = self.total.counts(now)
        if c is None:
            d1 = d24 = dl1 = d30 = u24 = u30 = 0
        else:
            d1, d24 = c.devices.counts(now)
            dl1, d30 = c.long_devices.counts(now)
            u24, u30 = c.users.counts(now)
        out.update(
            {
                "fingerprint.device_ids_1h": d1,
                "fingerprint.device_ids_24h": d24,
                "fingerprint.device_ids_30d": d30,
                "fingerprint.users_24h": u24,
                "fingerprint.users_30d": u30,
            }
        )
        if device_id is not None:
            out["fingerprint.is_new_device_id"] = c is None or device_id not in c.devices
        history = total_30d - total_1h
        if history >= MIN_HISTORY_DEVICES:
            share = max(d30 - dl1, 0) / history
            expected = share * total_1h
            out["fingerprint.commonness"] = round(share, 6)
            out["fingerprint.expected_device_ids_1h"] = round(expected, 3)
            out["fingerprint.device_lift_1h"] = round(d1 / max(expected, 1.0), 3)
        return out

    def users_30d(self, cluster: str | None, now: float) -> int | None:
        """Distinct users seen on ``cluster`` in 30 days (``None`` without a cluster)."""
        if cluster is None:
            return None
        c = self.clusters.get(cluster)
        return 0 if c is None else c.users.counts(now)[1]

    def see(self, cluster: str | None, device_id: str | None, user: str, ts: float) -> None:
        """Add one event's sighting (``device_id`` as the app sent it, placeholders dropped)."""
        if cluster is None:
            return
        c = self.clusters.get(cluster)
        if c is None:
            c = self.clusters[cluster] = _Cluster()
        c.users.see(user, ts)
        self._last_seen[cluster] = ts
        if device_id is None:
            return
        c.devices.see(device_id, ts)
        c.long_devices.see(device_id, ts)
        self.total.see(device_id, ts)

    def expire(self, now: float) -> int:
        """Drop clusters not seen for 30 days; returns how many."""
        old = [k for k, ts in self._last_seen.items() if ts <= now - LONG]
        for k in old:
            del self._last_seen[k]
            del self.clusters[k]
        return len(old)


def event_device_id(device: Device | None) -> str | None:
    """The device key of an event's usable ``device_id``, if any.

    The key, not the id itself, is what the counts remember: a client's device id is
    customer data, and the learnt state (snapshots included) must not hold it in clear.
    """
    if device is None or usable_device_id(device.device_id) is None:
        return None
    return device_key(device)[0]
