"""``python -m act3_local``: see ``act3_local.cli``."""

from .cli import main

raise SystemExit(main())
