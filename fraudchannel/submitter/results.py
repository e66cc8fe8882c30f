"""What became of each item: per-item result lines (JSON Lines, input order) and the run summary."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from fraudchannel.submitter.batches import Batch
from fraudchannel.submitter.fields import relative_pointer


@dataclass(slots=True)
class Summary:
    """Counts of one run; `as_json()` is the summary printed on stdout."""

    input: str
    format: str
    target_type: str
    dry_run: bool = False
    records: int = 0
    accepted: int = 0
    rejected: int = 0
    not_sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batches_sent: int = 0
    batches_failed: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    token_requests: int = 0
    aborted: str | None = None
    interrupted: bool = False  # Ctrl-C (SIGINT): exit status 130, as shells report it
    results: str | None = None
    started: float = field(default_factory=time.monotonic)

    def add(self, results: list[dict[str, Any]]) -> None:
        """Count per-item result lines (shaped as in the results file)."""
        for r in results:
            self.records += 1
            if "outcome" in r:
                self.accepted += 1
                self.outcomes[str(r["outcome"])] += 1
                continue
            codes = {str(e.get("code", "unknown")) for e in r.get("errors", [])} or {"unknown"}
            if codes == {"not_sent"}:
                self.not_sent += 1
                continue
            self.rejected += 1
            self.rejected_by_code.update(codes)

    @property
    def exit_code(self) -> int:
        """Return 0 when every record was accepted, 130 when interrupted (Ctrl-C), else 1."""
        if self.interrupted:
            return 130
        failed = self.rejected or self.not_sent or self.batches_failed or self.aborted
        return 1 if failed else 0

    def as_json(self) -> dict[str, Any]:
        """Return the summary: totals by outcome, rejected by error code, batches, timing.

        {"input", "format", "target_type", "dry_run", "records", "accepted", "rejected",
         "not_sent", "outcomes": {outcome: n}, "rejected_by_code": {code: n} (an item counts once
         per distinct code), "batches": {"total", "sent", "failed", "retries", "token_requests"},
         "failed_batches": [{"batch", "status", "detail"}], "aborted": str | null,
         "seconds", "reports_per_second", "results": path | null, "exit_code"}
        """
        seconds = time.monotonic() - self.started
        return {
            "input": self.input,
            "format": self.format,
            "target_type": self.target_type,
            "dry_run": self.dry_run,
            "records": self.records,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "not_sent": self.not_sent,
            "outcomes": dict(sorted(self.outcomes.items())),
            "rejected_by_code": dict(sorted(self.rejected_by_code.items())),
            "batches": {
                "total": self.batches,
                "sent": self.batches_sent,
                "failed": len(self.batches_failed),
                "retries": self.retries,
                "token_requests": self.token_requests,
            },
            "failed_batches": self.batches_failed,
            "aborted": self.aborted,
            "seconds": round(seconds, 3),
            "reports_per_second": round(self.accepted / seconds, 1) if seconds > 0 else None,
            "results": self.results,
            "exit_code": self.exit_code,
        }


def batch_results(
    batch: Batch, answer: dict[str, Any] | None, failure: str | None
) -> list[dict[str, Any]]:
    """Return the per-item result lines of `batch`, in input order.

    `answer` is the service's 202 body; `failure` ("batch_failed: ..." or "not_sent: ...") marks
    every sent item when there is no answer. Items the answer leaves out get code "missing_result".
    """
    by_index: dict[int, dict[str, Any]] = {}
    if answer is not None:
        for entry in answer.get("items", []):
            if isinstance(entry, dict) and isinstance(entry.get("index"), int):
                by_index[entry["index"]] = entry
    out: list[dict[str, Any]] = []
    sent = 0
    for p in batch.records:
        row: dict[str, Any] = {"line": p.line, "batch": batch.index, "client_ref": p.client_ref}
        if p.item is None:
            row["errors"] = p.errors
        elif answer is None:
            code, _, detail = (failure or "batch_failed: no answer").partition(": ")
            row["errors"] = [{"pointer": "", "code": code, "detail": detail}]
        else:
            entry = by_index.get(sent)
            if entry is None:
                row["errors"] = [{"pointer": "", "code": "missing_result", "detail": ""}]
            elif entry.get("errors"):
                row["errors"] = [
                    {
                        "pointer": relative_pointer(e.get("pointer"), sent),
                        "code": str(e.get("code", "")),
                        "detail": str(e.get("detail", "")),
                    }
                    for e in entry["errors"]
                    if isinstance(e, dict)
                ]
            else:
                for key in ("outcome", "report_id", "ticket_id", "target"):
                    if key in entry:
                        row[key] = entry[key]
                row.setdefault("outcome", "accepted")
        if p.item is not None:
            sent += 1
        out.append(row)
    return out


class ResultWriter:
    """Writes per-item results in batch order, whatever order batches finish in; counts them."""

    def __init__(self, out: IO[str] | None, summary: Summary, progress: Any = None) -> None:
        self.out = out
        self.summary = summary
        self.progress = progress
        self.pending: dict[int, list[dict[str, Any]]] = {}
        self.next_index = 0

    def add(self, index: int, results: list[dict[str, Any]]) -> None:
        """Take batch `index`'s results; write every batch now complete in order."""
        self.pending[index] = results
        while self.next_index in self.pending:
            rows = self.pending.pop(self.next_index)
            self.summary.add(rows)
            if self.out is not None:
                for row in rows:
                    self.out.write(json.dumps(row, ensure_ascii=False) + "\n")
                self.out.flush()
            if self.progress is not None:
                self.progress.update(len(rows))
            self.next_index += 1
