import sys

from .deploy import main

sys.exit(main())
