"""``python -m nagelfluh_runner``: the program every executor starts."""

import sys

from nagelfluh_runner.cli import main

sys.exit(main())
