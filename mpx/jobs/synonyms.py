"""Refresh synonym groups and relations from ``MPX_SYNONYMS_FILE`` and the stored market questions.

Every ``mpx evaluate`` pass calls :func:`refresh_synonyms` with the universe it loaded. It rebuilds
only when something the build reads changed since the last build — the file's bytes, the builder's
version, or any market's id, question, slug, outcomes, event, status, flags or end date, or an
event's negRisk flag — a fingerprint kept in ``job_state``; otherwise it loads what is stored (the
same thing). ``mpx synonyms refresh`` forces a rebuild. The caller commits.

A missing synonyms file is no groups from the file (the matcher still runs, with a warning) when
``MPX_SYNONYMS_FILE`` is unset; when it is set (environment or ``.env``) the file must exist
(:class:`~mpx.errors.ConfigError`, exit 78): a mistyped path must not silently drop every group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import psycopg

from mpx.adapters.db import state
from mpx.adapters.db import synonyms as db_synonyms
from mpx.domain.models import Event, Market
from mpx.domain.rules.base import Relation, SynonymGroup
from mpx.domain.synonyms import Built, SynonymsConfig, build, load_config
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)
FINGERPRINT_KEY = "synonyms:fingerprint"
BUILDER_VERSION = "2"
"""Bump when :func:`mpx.domain.synonyms.build` changes what it finds: the next pass rebuilds."""


def load_synonyms_config(settings: Settings) -> SynonymsConfig:
    """The validated synonyms file (ConfigError, exit 78, when invalid, or missing though configured)."""
    return load_config(settings.mpx_synonyms_file, required="mpx_synonyms_file" in settings.model_fields_set)


def fingerprint(settings: Settings, markets: Mapping[str, Market], events: Mapping[str, Event]) -> str:
    h = hashlib.sha1(f"v{BUILDER_VERSION}\n".encode())
    path = settings.mpx_synonyms_file
    h.update(path.read_bytes() if path.exists() else b"-")
    for mid in sorted(markets):
        m = markets[mid]
        labels = ",".join(o.label for o in m.outcomes)
        h.update(f"\n{mid}|{m.question}|{m.slug}|{labels}|{m.event_id}|{m.status}|{m.active}|{m.neg_risk}|"
                 f"{m.neg_risk_other}|{m.end_date}".encode())
    for eid in sorted(events):
        e = events[eid]
        h.update(f"\n{eid}|{e.neg_risk}|{len(e.market_ids)}".encode())
    return h.hexdigest()


def rebuild(conn: psycopg.Connection, settings: Settings, markets: Mapping[str, Market],
            events: Mapping[str, Event], config: SynonymsConfig | None = None) -> Built:
    """Build and store now (the caller commits); what was found, with the build's notes."""
    if config is None:
        config = load_synonyms_config(settings)
    if not settings.mpx_synonyms_file.exists():
        log.warning("no synonyms file: only the matcher's groups and ladders are used",
                    extra={"path": str(settings.mpx_synonyms_file)})
    built = build(config, markets, events)
    db_synonyms.store(conn, built.groups, built.relations)
    state.set_state(conn, FINGERPRINT_KEY, fingerprint(settings, markets, events))
    for note in built.notes[:20]:
        log.warning(f"synonyms: {note}")
    log.info("synonyms refreshed", extra={"groups": len(built.groups), "relations": len(built.relations),
                                          "markets": len(markets)})
    return built


def refresh_synonyms(conn: psycopg.Connection, settings: Settings, markets: Mapping[str, Market],
                     events: Mapping[str, Event], *, force: bool = False) -> tuple[list[SynonymGroup], list[Relation]]:
    """Groups and relations for this universe, stored (the caller commits). ConfigError (78) on an
    invalid synonyms file."""
    config = load_synonyms_config(settings)
    if not force and state.get_state(conn, FINGERPRINT_KEY) == fingerprint(settings, markets, events):
        return db_synonyms.load(conn)
    built = rebuild(conn, settings, markets, events, config)
    return built.groups, built.relations
