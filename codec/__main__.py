"""``python -m codec``: the command line (see :mod:`codec.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
