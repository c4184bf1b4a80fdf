"""Publication states: a photo is `pending`, `public` or `withheld`, and only `public` leaves the catalogue.

- `withheld`: an archivist said no (or the photo looks like one they said no to).
- `pending`: it waits: for an archivist's approval (`photos.pending`, set at import unless the
  archive's `publish-on-import` is `immediate`), or because it cannot be public as it stands: no
  licence, or a licence that requires attribution and no creator to attribute.
- `public`: none of the above.

`photos.state` is derived from those columns by triggers (schema.py, migration 15) whoever writes,
so the public copy, the review queue and an archivist's own SQL all read one answer, and a photo
whose licence is cleared by any means stops being public at once. The rule is written once, here,
as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

PUBLISH_ON_IMPORT = ("review", "immediate")
DEFAULT_PUBLISH_ON_IMPORT = "review"       # new archives; migration 15 sets `immediate` where photos were
DEFAULT_FACES = "blur"                     # new archives; migration 16 sets `show` where photos were

# A photo's faces are settled when detection ran (found some, or none) or an archivist cleared them.
FACES_SETTLED = "({p}.faces_shown = 1 OR {p}.faces_status IN ('found', 'none'))"

# Why a photo waits, in the order archivists should fix them: (key, SQL condition on row alias {p},
# plain words for one photo, words for a count).
_NEEDS_CREATOR = ("{p}.licence_id IS NOT NULL AND {p}.creator IS NULL AND coalesce((SELECT attribution_required "
                  "FROM licences WHERE id = {p}.licence_id), 1)")
WAITING = (
    ("licence", "{p}.licence_id IS NULL", "no licence", "without a licence"),
    ("creator", _NEEDS_CREATOR, "its licence requires a creator to credit, and none is known",
     "without the creator their licence requires"),
    ("approval", "{p}.pending", "waiting for an archivist's approval", "not yet approved"),
    # While public images obscure faces (public-faces: blur, the default), a photo whose detection has
    # not run or failed cannot be made safe to show (faces.py; columns of migration 16).
    ("faces", f"coalesce((SELECT value FROM settings WHERE key = 'public-faces'), '{DEFAULT_FACES}') = 'blur' "
              "AND NOT " + FACES_SETTLED,
     "its faces have not been checked (detection has not run, or failed)", "whose faces are not checked yet"),
)


def state_sql(p: str, *, faces: bool = True) -> str:
    """The state of row `p` (a table alias, or `new` in a trigger) as an SQL expression (`faces`:
    False only for migration 15, which ran before photos had face columns)."""
    blocked = " OR ".join(f"({cond.format(p=p)})" for key, cond, _, _ in WAITING if faces or key != "faces")
    return f"(CASE WHEN {p}.withheld THEN 'withheld' WHEN {blocked} THEN 'pending' ELSE 'public' END)"


def reasons_sql(p: str) -> str:
    """Why row `p` waits, as one '; '-separated text (NULL when it does not)."""
    parts = " || ".join(f"CASE WHEN {cond.format(p=p)} THEN '{words.replace(chr(39), chr(39) * 2)}; ' ELSE '' END"
                        for _, cond, words, _ in WAITING)
    return f"nullif(rtrim({parts}, '; '), '')"


@dataclass
class Waiting:
    """What an import left waiting, and why (a photo can have several reasons)."""
    total: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        if not self.total:
            return ""
        words = {key: many for key, _, _, many in WAITING}
        why = ", ".join(f"{n} {words[k]}" for k, n in self.reasons.items() if n)
        return (f"{self.total} waiting for review: {why}" if why else f"{self.total} waiting for review")


def waiting(db: Any, photo_ids: Iterable[int]) -> Waiting:
    """Count the photos among `photo_ids` that wait, by reason."""
    ids = list(photo_ids)
    found = Waiting()
    conn = getattr(db, "conn", db)
    sums = ", ".join(f"coalesce(sum(CASE WHEN {cond.format(p='p')} THEN 1 ELSE 0 END), 0)" for _, cond, _, _ in WAITING)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        row = conn.execute(f"SELECT count(*), {sums} FROM photos p WHERE p.state = 'pending' AND p.id IN "
                           f"({','.join('?' * len(chunk))})", chunk).fetchone()
        found.total += row[0]
        for (key, *_), n in zip(WAITING, row[1:]):
            found.reasons[key] = found.reasons.get(key, 0) + n
    return found

