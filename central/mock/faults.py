"""Fault injection for the mock central: the settings, one seeded roll per request, and what was injected.

Per ``/v1`` request the server sleeps ``latency_ms`` and then rolls once: the roll falls in the band of
``fail``, ``timeout``, ``drop`` or (page requests only) ``duplicate``, laid end to end in that order, or in
none. A seeded ``random.Random`` behind a lock keeps a run reproducible for a given ``--fault-seed`` as far as
the request order is.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

FAULT_KINDS = ("fail", "timeout", "drop", "duplicate")
RATE_FIELDS = ("fail_rate", "timeout_rate", "drop_rate", "duplicate_rate")


class FaultSettingsError(ValueError):
    """A fault setting with an unknown name or a value out of range."""


@dataclass
class FaultSettings:
    fail_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: int = 0
    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    hang_seconds: float = 10.0

    def as_json(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        for name in RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise FaultSettingsError(f"{name} must be between 0 and 1")
        if self.latency_ms < 0:
            raise FaultSettingsError("latency_ms must not be negative")
        if not 0.0 <= self.hang_seconds <= 3600:
            raise FaultSettingsError("hang_seconds must be between 0 and 3600")


def _coerce(name: str, value) -> float | int:
    # JSON booleans are ints in Python: refuse them rather than read true as a rate of 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSettingsError(f"{name} must be a number")
    if name == "latency_ms":
        if value != int(value):
            raise FaultSettingsError("latency_ms must be a whole number")
        return int(value)
    return float(value)


class Faults:
    """Current fault settings, the roller and the count of faults injected; thread-safe."""

    def __init__(self, settings: FaultSettings | None = None, *, seed: int = 0,
                 injected: Mapping[str, int] | None = None):
        self._settings = settings or FaultSettings()
        self._settings.validate()
        self._lock = threading.Lock()
        # Fault injection is test noise, not security: a seeded PRNG is exactly what we want.
        self._random = random.Random(seed)  # noqa: S311 - reproducible fault rolls, not cryptography
        self._injected = {kind: int((injected or {}).get(kind, 0)) for kind in FAULT_KINDS}

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return FaultSettings(**self._settings.as_json())

    def update(self, changes: Mapping) -> dict:
        """Apply any subset of the settings; all or nothing. Answers the full current settings."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FaultSettingsError(f"unknown fault settings: {', '.join(unknown)}")
        with self._lock:
            candidate = FaultSettings(**{**self._settings.as_json(),
                                         **{name: _coerce(name, value) for name, value in changes.items()}})
            candidate.validate()
            self._settings = candidate
            return candidate.as_json()

    def roll(self, *, page: bool) -> str | None:
        """The fault for one request, or None; counts what it injects."""
        with self._lock:
            settings = self._settings
            point = self._random.random()
            bands = [("fail", settings.fail_rate), ("timeout", settings.timeout_rate), ("drop", settings.drop_rate)]
            if page:
                bands.append(("duplicate", settings.duplicate_rate))
            edge = 0.0
            for kind, rate in bands:
                edge += rate
                if point < edge:
                    self._injected[kind] += 1
                    return kind
            return None

    def coin(self) -> bool:
        with self._lock:
            return self._random.random() < 0.5

    def choice(self, options: Sequence):
        with self._lock:
            return self._random.choice(options)

    def injected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._injected)
