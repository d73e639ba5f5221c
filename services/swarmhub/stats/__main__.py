"""python -m swarmhub.stats poll|web|serve|report: see --help of each."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
