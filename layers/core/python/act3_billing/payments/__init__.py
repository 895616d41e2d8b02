"""The Stripe gateway: the only package that imports `stripe` (handlers that never pay never load it)."""
