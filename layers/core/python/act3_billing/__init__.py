"""ACT 3 AI credit billing: the shared package of every Lambda (domain, store, http)."""
