"""``python -m qmu_kit.cli``: the ``qmu-kit`` command."""

import sys

from qmu_kit.cli.commands import main

sys.exit(main())
