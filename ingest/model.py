"""Plain types that cross the stages' boundaries: facts read from a file, the worker's result,
a chosen city and the tags resolved for a photo. No behaviour beyond small conveniences."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Facts = dict[str, dict[str, Any]]
"""Everything read from one file, `{source: {key: value}}`: plain data, so it crosses a process
boundary, is stored as it is in the `metadata` table, and is resolved again without re-reading."""

@dataclass
class FileResult:
    path: str
    size: int
    mtime_ns: int
    sha256: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    phash: int | None = None          # perceptual hash of the thumbnail (media/similar.py)
    # Face detection (media/faces.py): "found", "none" or "failed"; None when it did not run.
    # faces: (x, y, w, h, score), x..h as fractions of the upright image.
    faces_status: str | None = None
    faces: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    facts: Facts = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)   # (kind, message): imported anyway
    problem: tuple[str, str] | None = None                          # (kind, message): not imported



Box = tuple[float, float, float, float]
"""A face's box: x, y, width, height as fractions of the upright image, so one box serves every size."""
FACE_DETECTOR = "centerface"   # photo_faces.source of the detector's boxes (media/faces.py)


@dataclass(frozen=True)
class Face:
    box: Box
    score: float


MAX_REACH_KM = 30.0


MIN_REACH_KM = 2.0


@dataclass(frozen=True)
class City:
    geonames_id: int
    name: str
    country_code: str
    latitude: float
    longitude: float
    population: int
    timezone: str

    @property
    def reach_km(self) -> float:
        return min(MAX_REACH_KM, max(MIN_REACH_KM, 0.009 * math.sqrt(self.population)))


@dataclass(frozen=True)
class CityChoice:
    name: str
    country_code: str | None
    source: str
    city: City | None = None          # the gazetteer entry, when there is one
    review: str | None = None



@dataclass
class Tags:
    values: dict[str, Any] = field(default_factory=dict)   # photo columns
    city: CityChoice | None = None                          # to look up or create when city_id is unknown
    demo_name: str | None = None                            # a forced --demo the registry does not know
    provisional: bool = False                               # group into an unnamed demonstration
    reasons: list[str] = field(default_factory=list)
