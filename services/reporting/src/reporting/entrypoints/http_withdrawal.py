"""HTTP: the rider withdraws their own report (撤回) before it is accepted as a case."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Response
from pydantic import ConfigDict, Field

from common.problems import Problem, not_found
from common.service.request_model import RequestModel
from reporting.domain.errors import IdempotencyConflict, ReportNotFound
from reporting.domain.reporter_requests import RequestRefused
from reporting.domain.reports import MAX_TEXT_LENGTH
from reporting.domain.withdrawal import WithdrawReport
from reporting.entrypoints.http import IdempotencyKey, ReportDetail, Rider, not_possible_now
from reporting.service_layer.unit_of_work import AbstractReportingUnitOfWork
from reporting.service_layer.withdrawal import withdraw_report


class WithdrawRequest(RequestModel):
    """撤回: why the reporter takes the report back (optional)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "拍错了位置"}]})

    reason: str = Field(default="", max_length=MAX_TEXT_LENGTH)


def build_withdrawal_router(
    unit_of_work: Callable[[], AbstractReportingUnitOfWork],
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reports"])

    @router.post(
        "/reports/{report_id}/withdraw",
        response_model=ReportDetail,
        summary="Withdraw one's own report before it is accepted as a case (撤回)",
        description="Allowed while the report is `submitted` or `pending_review`. The report "
        "is `withdrawn` at once and dispatch is told: it voids the report's work order if "
        "nobody has claimed it and no other report was merged into it, or detaches the report "
        "from the case it was merged into; a case a grid worker has claimed goes on, and the "
        "report then shows its steps. Withdrawing a withdrawn report answers the report again "
        "(with `Idempotent-Replayed: true`).",
        responses={
            409: {
                "description": "The report was accepted as a case already, rejected or merged "
                "(the problem names the report's `report_status`), or the Idempotency-Key was "
                "used for another request."
            }
        },
    )
    async def withdraw(
        report_id: str,
        response: Response,
        principal: Rider,
        body: WithdrawRequest | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ReportDetail:
        reason = body.reason if body is not None else ""
        command = WithdrawReport(report_id, principal.subject, reason, idempotency_key)
        try:
            withdrawn = await withdraw_report(command, unit_of_work())
        except ReportNotFound as error:
            raise not_found("report", report_id) from error
        except RequestRefused as error:
            raise not_possible_now(error) from error
        except IdempotencyConflict as error:
            raise Problem(409, "Idempotency-Key reused", str(error)) from error
        if withdrawn.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return ReportDetail.with_timeline(withdrawn.report, withdrawn.timeline)

    return router
