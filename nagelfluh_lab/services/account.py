"""A user's account as the API shows it: the balance with the ledger behind it, and
what a run with given resources would cost at most."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .. import shapes
from ..db.models import User
from ..db.session import Database
from ..resources import Resources
from . import access
from .billing import Billing, credits
from .serialize import transaction_json


async def statement(db: Database, billing: Billing, user_name: str) -> shapes.Account:
    """The user's balance and every transaction of theirs, oldest first."""

    def query(session: Session, user: User) -> shapes.Account:
        return {
            "user": user.name,
            "balance": credits(billing.balance(session, user)),
            "transactions": [transaction_json(t) for t in billing.ledger(session, user)],
        }

    return await access.as_user(db, user_name, query)


def estimate(billing: Billing, resources: Resources) -> shapes.Estimate:
    """The HOLD a run with ``resources`` would place: its cost over its whole deadline."""
    return {
        "resources": resources.to_json(),
        "estimated": credits(billing.estimate(resources)),
        "rates": {
            "cpu_hour": billing.rate_cpu_hour,
            "memory_gib_hour": billing.rate_memory_gib_hour,
        },
    }
