"""``python -m kakit.delivery``: the delivery worker under its historical name.

Installed systemd units (contrib/systemd/kakit-outbox.service) run this path; the worker itself
lives in :mod:`kakit.alerts.delivery`.
"""

import sys

if __name__ == "__main__":
    from kakit.alerts.delivery import main

    sys.exit(main())
