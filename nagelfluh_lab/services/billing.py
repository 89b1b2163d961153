"""The ledger: HOLD at submit, DEBIT of the actual cost and RELEASE of the rest at the end.

Amounts are integer micro-credits. The balance is derived from the ledger and
the configured starting balance, never stored, so it cannot drift.
"""

from __future__ import annotations

import math
from typing import overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import ProcessVersion, Transaction, User
from ..errors import PaymentRequired
from ..resources import Resources

MICRO = 1_000_000
HOLD, DEBIT, RELEASE = "HOLD", "DEBIT", "RELEASE"


@overload
def credits(micro: int) -> float: ...
@overload
def credits(micro: None) -> None: ...
@overload
def credits(micro: int | None) -> float | None: ...
def credits(micro: int | None) -> float | None:
    return None if micro is None else micro / MICRO


class Billing:
    def __init__(
        self,
        rate_cpu_hour: float,
        rate_memory_gib_hour: float,
        starting_balance: float,
        user_balances: dict[str, float],
    ) -> None:
        self.rate_cpu_hour = rate_cpu_hour
        self.rate_memory_gib_hour = rate_memory_gib_hour
        self.starting_balance = starting_balance
        self.user_balances = user_balances

    def cost(self, resources: Resources, seconds: float) -> int:
        """Cost of holding ``resources`` for ``seconds``, rounded up to a micro-credit."""
        hourly = resources.cpu * self.rate_cpu_hour + (
            resources.memory / 2**30 * self.rate_memory_gib_hour
        )
        return math.ceil(hourly * max(seconds, 0.0) / 3600 * MICRO - 1e-6)

    def estimate(self, resources: Resources) -> int:
        return self.cost(resources, resources.deadline_seconds)

    def start_of(self, user: User) -> int:
        return round(self.user_balances.get(user.name, self.starting_balance) * MICRO)

    def balance(self, session: Session, user: User) -> int:
        """Starting balance minus what is held, plus what was released."""
        rows = session.execute(
            select(Transaction.kind, func.sum(Transaction.amount))
            .where(Transaction.user_id == user.id)
            .group_by(Transaction.kind)
        ).all()
        totals = {kind: int(total) for kind, total in rows}
        return self.start_of(user) - totals.get(HOLD, 0) + totals.get(RELEASE, 0)

    def ledger(self, session: Session, user: User) -> list[Transaction]:
        """The user's transactions, oldest first."""
        return list(
            session.scalars(
                select(Transaction).where(Transaction.user_id == user.id).order_by(Transaction.id)
            )
        )

    def hold(self, session: Session, user: User, version: ProcessVersion, project_id: int) -> None:
        """Place the estimated cost on hold, or refuse with 402 if the balance can't cover it."""
        amount = version.cost_estimated
        available = self.balance(session, user)
        if amount > available:
            raise PaymentRequired(
                f"insufficient balance: this run may cost {amount / MICRO:.6g} credits "
                f"but only {available / MICRO:.6g} are available",
                {"estimated": amount / MICRO, "balance": available / MICRO},
            )
        session.add(self._entry(HOLD, amount, user.id, version, project_id))

    def settle(self, session: Session, version: ProcessVersion, run_seconds: float) -> None:
        """DEBIT the actual cost (capped by the hold) and RELEASE the rest; once per version."""
        entries = session.scalars(
            select(Transaction).where(Transaction.version_id == version.id)
        ).all()
        holds = [t for t in entries if t.kind == HOLD]
        if not holds or any(t.kind != HOLD for t in entries):
            return
        held = sum(t.amount for t in holds)
        resources = version.resources
        debit = min(held, self.cost(resources, run_seconds))
        version.cost_actual = debit
        hold = holds[0]
        session.add(self._entry(DEBIT, debit, hold.user_id, version, hold.project_id))
        session.add(self._entry(RELEASE, held - debit, hold.user_id, version, hold.project_id))

    @staticmethod
    def _entry(
        kind: str, amount: int, user_id: int, version: ProcessVersion, project_id: int
    ) -> Transaction:
        return Transaction(
            user_id=user_id,
            project_id=project_id,
            version_id=version.id,
            process_id=version.process_id,
            version=version.number,
            kind=kind,
            amount=amount,
        )
