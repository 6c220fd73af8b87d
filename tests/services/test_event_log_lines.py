"""Governance events reach the structured log once stored, and only then."""

from __future__ import annotations

import json
import logging

from app.extensions import db
from app.services import events
from app.services.tenancy import confined


def _lines(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "taskplane.events"]


def test_event_is_logged_as_json_after_its_commit(app, tenant, caplog):
    caplog.set_level(logging.INFO, logger="taskplane.events")
    with app.app_context():
        events.emit(db.session, "service_quota_warning", tenant=tenant, percent=80)
        assert _lines(caplog) == []  # not yet committed: nothing logged
        db.session.commit()
    [line] = _lines(caplog)
    assert line["event"] == "service_quota_warning"
    assert line["tenant"] == tenant and line["percent"] == 80
    assert [r.levelno for r in caplog.records if r.name == "taskplane.events"] == [logging.WARNING]


def test_rolled_back_event_is_neither_stored_nor_logged(app, tenant, caplog):
    caplog.set_level(logging.INFO, logger="taskplane.events")
    with app.app_context():
        events.emit(db.session, "service_job_enqueued", tenant=tenant)
        db.session.rollback()
        db.session.commit()
        with confined(db.session, tenant):
            page = events.list_events(db.session, filters={}, cursor=None, limit=10)
    assert page.items == []
    assert _lines(caplog) == []
