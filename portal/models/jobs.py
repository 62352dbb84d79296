"""Background jobs (bulk preparation of posters, large exports): what staff see of them.

The row is the job's whole state (status, progress, result), so its progress is visible
from every app server whether the job runs on an RQ worker or in a server's thread.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import naive_utc_now
from portal.extensions import db


class BackgroundJob(db.Model):
    __tablename__ = "background_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Shown in URLs instead of the id: job results (exports) must not be guessable.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("account.id",
                                                                ondelete="SET NULL"))
    # queued → running → done | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    runner: Mapped[str] = mapped_column(String(16), default="thread")  # "rq" or "thread"
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed_items: Mapped[int] = mapped_column(default=0)
    # A short code (never an error text): time_limit, storage, error.
    error: Mapped[str | None] = mapped_column(String(40))
    # Which items failed, as public ids (at most a few hundred), to report and retry.
    failures: Mapped[str | None] = mapped_column(Text)
    result_key: Mapped[str | None] = mapped_column(String(255))
    result_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(self.done * 100 / self.total) if self.total else 0
