"""``python -m lab.demo`` (what ``make demo`` runs)."""

import sys

from lab.demo.run import main

if __name__ == "__main__":
    sys.exit(main())
