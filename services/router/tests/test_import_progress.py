"""An import's progress counts every row it is done with: imported, unchanged and rejected
(while validating or while applying) over the file's rows, so the last batch reaches 100%."""

from __future__ import annotations

from libs.common.db.models.router import ImportJob
from services.router.lifecycle_api import _job_out


def job(**counts: int) -> ImportJob:
    return ImportJob(id="j1", tenant_id="acme", file_name="list.csv", program_id="default",
                     path="/tmp/j1.csv", status="applying", **counts)


def test_progress_counts_rows_rejected_while_applying():
    # 3,010 rows: 5 refused while validating, 2 while applying (do-not-contact), 13 repeated
    done = job(rows_total=3010, rows_valid=3005, rows_applied=2990, rows_unchanged=13, rows_rejected=7)
    assert _job_out(done)["progress"] == 1.0


def test_progress_starts_with_the_rows_refused_while_validating():
    started = job(rows_total=100, rows_valid=90, rows_applied=0, rows_unchanged=0, rows_rejected=10)
    assert _job_out(started)["progress"] == 0.1
    assert _job_out(job(rows_total=0, rows_valid=0, rows_applied=0, rows_unchanged=0,
                        rows_rejected=0))["progress"] == 0.0
