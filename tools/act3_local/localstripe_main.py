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
import time
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


def _plan_items(items: Any) -> Any:
    """Stripe takes a Plan's id wherever a Price's goes: `items[n][price]` is localstripe's `plan`."""
    if not isinstance(items, list):
        return items
    return [
        {**{k: v for k, v in item.items() if k != "price"}, "plan": item["price"]}
        if isinstance(item, dict) and "price" in item
        else item
        for item in items
    ]


def _paying_with(customer_id: Any, payment_method: Any) -> Any:
    """Invoices of a subscription with its own `default_payment_method` are paid with it (localstripe
    only knows the customer's default): set for the call, then put back."""

    class _Swap:
        def __enter__(self) -> None:
            self.customer = resources.Customer._api_retrieve(customer_id) if payment_method else None
            if self.customer is not None:
                self.saved = self.customer.invoice_settings.get("default_payment_method")
                self.customer.invoice_settings["default_payment_method"] = payment_method

        def __exit__(self, *exc: Any) -> None:
            if self.customer is not None:
                self.customer.invoice_settings["default_payment_method"] = self.saved

    return _Swap()


_subscription_init = resources.Subscription.__init__


def _subscription(self: Any, *args: Any, default_payment_method: Any = None, **kwargs: Any) -> None:
    kwargs["items"] = _plan_items(kwargs.get("items"))
    with _paying_with(kwargs.get("customer"), default_payment_method):
        _subscription_init(self, *args, **kwargs)
    self.default_payment_method = default_payment_method


resources.Subscription.__init__ = _subscription

_subscription_update = resources.Subscription._update


def _update(
    self: Any,
    *args: Any,
    proration_behavior: Any = None,
    billing_cycle_anchor: Any = None,
    payment_behavior: Any = None,
    **kwargs: Any,
) -> None:
    """Stripe's plan change: `billing_cycle_anchor=now` starts a new period at once and
    `proration_behavior=always_invoice` bills it now (localstripe bills the new plan's full price)."""
    kwargs["items"] = _plan_items(kwargs.get("items"))
    if kwargs.get("items") is None:
        kwargs.pop("items")
    _subscription_update(self, *args, **kwargs)
    if billing_cycle_anchor == "now":
        self.start_date = int(time.time())
        self.billing_cycle_anchor = None
    if proration_behavior == "always_invoice":
        with _paying_with(self.customer, getattr(self, "default_payment_method", None)):
            self._create_invoice()


resources.Subscription._update = _update

sys.argv = ["localstripe", "--port", sys.argv[1]]
from localstripe.server import start  # noqa: E402  (routes are read from extra_apis on import)

start()
