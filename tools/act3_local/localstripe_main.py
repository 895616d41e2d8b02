"""localstripe, adapted where it differs from Stripe's current API (runs in localstripe's own venv).

Started by ``services.start_localstripe`` as ``python -c <this file> PORT STATE_FILE``. The product
makes the same calls locally as in production; where localstripe lags behind Stripe, it is taught
here, never worked around in the product:

- the store is kept in ``STATE_FILE`` (atomic replace), so the local stack's Stripe data survives;
- ``automatic_payment_methods`` on SetupIntents and PaymentIntents (Stripe's default since 2023) is
  accepted and means cards, the only kind localstripe has;
- confirming a SetupIntent that names a customer attaches the card to that customer, as Stripe does;
- ``GET /v1/customers/{id}/payment_methods`` (Stripe's customer payment-method list) is served, and
  the customer's tax-id list takes Stripe's paging parameters.
"""

import os
import pickle
import sys
from typing import Any

from localstripe import resources

STATE = sys.argv[2]


def _load(self: Any) -> None:
    try:
        with open(STATE, "rb") as f:
            old = pickle.load(f)  # noqa: S301 (the stack's own state file, written below)
        self.clear()
        self.update(old)
    except (FileNotFoundError, EOFError):
        pass


def _dump(self: Any) -> None:
    with open(STATE + ".tmp", "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(STATE + ".tmp", STATE)


resources.Store.try_load_from_disk = _load
resources.Store.dump_to_disk = _dump


def _accept_automatic_payment_methods(cls: Any) -> None:
    original = cls.__init__

    def init(self: Any, *args: Any, automatic_payment_methods: Any = None, **kwargs: Any) -> None:
        if automatic_payment_methods is not None and kwargs.get("payment_method_types") is None:
            kwargs["payment_method_types"] = ["card"]
        original(self, *args, **kwargs)

    cls.__init__ = init


_accept_automatic_payment_methods(resources.SetupIntent)
_accept_automatic_payment_methods(resources.PaymentIntent)

_attach_pm = resources.SetupIntent._attach_pm


def _attach_to_customer(self: Any, pm: Any) -> None:
    _attach_pm(self, pm)
    if self.status == "succeeded" and self.customer and getattr(pm, "customer", None) is None:
        pm.customer = self.customer


resources.SetupIntent._attach_pm = _attach_to_customer


def _customer_payment_methods(
    id: str, type: Any = None, limit: Any = None, starting_after: Any = None, **kwargs: Any
) -> Any:
    url = "/v1/customers/" + id + "/payment_methods"
    return resources.PaymentMethod._api_list_all(
        url, customer=id, type=type or "card", limit=limit, starting_after=starting_after
    )


resources.extra_apis.append(("GET", "/v1/customers/{id}/payment_methods", _customer_payment_methods))

_list_tax_ids = resources.Customer._api_list_tax_ids


def _customer_tax_ids(id: str, limit: Any = None, starting_after: Any = None, **kwargs: Any) -> Any:
    return _list_tax_ids(id, **kwargs)  # localstripe refuses Stripe's paging parameters here


resources.extra_apis[:] = [
    (m, u, _customer_tax_ids if (m, u) == ("GET", "/v1/customers/{id}/tax_ids") else f)
    for m, u, f in resources.extra_apis
]

sys.argv = ["localstripe", "--port", sys.argv[1]]
from localstripe.server import start  # noqa: E402  (routes are read from extra_apis on import)

start()
