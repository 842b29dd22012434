"""Refresh synonym groups and relations from ``MPX_SYNONYMS_FILE`` and the stored market questions.

Every ``mpx evaluate`` calls :func:`refresh_synonyms`; it rebuilds only when the markets (ids,
questions, status) or the file changed since the last build — a fingerprint is kept in
``job_state`` — and otherwise loads what is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import psycopg

from mpx.adapters.db import state
from mpx.adapters.db import synonyms as db_synonyms
from mpx.domain.models import Event, Market
from mpx.domain.rules.base import Relation, SynonymGroup
from mpx.domain.synonyms import build, load_config
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)
FINGERPRINT_KEY = "synonyms:fingerprint"


def fingerprint(settings: Settings, markets: Mapping[str, Market]) -> str:
    h = hashlib.sha1()
    path = settings.mpx_synonyms_file
    h.update(path.read_bytes() if path.exists() else b"-")
    for mid in sorted(markets):
        m = markets[mid]
        h.update(f"{mid}|{m.question}|{m.event_id}|{m.status}|{len(m.outcomes)}\n".encode())
    return h.hexdigest()


def refresh_synonyms(conn: psycopg.Connection, settings: Settings, markets: Mapping[str, Market],
                     events: Mapping[str, Event], *, force: bool = False) -> tuple[list[SynonymGroup], list[Relation]]:
    """Groups and relations for this universe, stored (the caller commits). ConfigError (78) on an
    invalid synonyms file."""
    config = load_config(settings.mpx_synonyms_file)
    fp = fingerprint(settings, markets)
    if not force and state.get_state(conn, FINGERPRINT_KEY) == fp:
        return db_synonyms.load(conn)
    if not settings.mpx_synonyms_file.exists():
        log.warning("no synonyms file: only the matcher's groups and ladders are used",
                    extra={"path": str(settings.mpx_synonyms_file)})
    built = build(config, markets, events)
    db_synonyms.store(conn, built.groups, built.relations)
    state.set_state(conn, FINGERPRINT_KEY, fp)
    if built.unknown:
        log.warning("synonyms file names unknown markets", extra={"markets": sorted(set(built.unknown))[:20]})
    log.info("synonyms refreshed", extra={"groups": len(built.groups), "relations": len(built.relations)})
    return built.groups, built.relations
