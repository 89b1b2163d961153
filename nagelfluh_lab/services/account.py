"""A user's account as the API shows it: the balance with the ledger behind it, and
what a run with given resources would cost at most."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from .. import shapes
from ..db.models import User
from ..db.session import Database
from ..resources import Resources, parse_resources
from . import access
from .billing import Billing, credits
from .serialize import transaction_json


@dataclass(frozen=True)
class AccountService:
    db: Database
    billing: Billing
    default_resources: Resources

    async def statement(self, user_name: str) -> shapes.Account:
        """The user's balance and every transaction of theirs, oldest first."""

        def query(session: Session, user: User) -> shapes.Account:
            return {
                "user": user.name,
                "balance": credits(self.billing.balance(session, user)),
                "transactions": [transaction_json(t) for t in self.billing.ledger(session, user)],
            }

        return await access.as_user(self.db, user_name, query)

    def estimate(self, resources: Any) -> shapes.Estimate:
        """The HOLD a run asking for ``resources`` (a request's, the defaults filling its
        gaps) would place: its cost over its whole deadline."""
        applied = parse_resources(resources, self.default_resources)
        return {
            "resources": applied.to_json(),
            "estimated": credits(self.billing.estimate(applied)),
            "rates": {
                "cpu_hour": self.billing.rate_cpu_hour,
                "memory_gib_hour": self.billing.rate_memory_gib_hour,
            },
        }
