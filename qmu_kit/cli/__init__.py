"""The ``qmu-kit`` command line: one module per command family over the shared flag parsers of
:mod:`qmu_kit.cli.options`. Bad input exits with status 2 and one line naming the flag and its range.
"""

from qmu_kit.cli.commands import main
from qmu_kit.cli.options import EXIT_BAD_INPUT, UsageError

__all__ = ["EXIT_BAD_INPUT", "UsageError", "main"]
