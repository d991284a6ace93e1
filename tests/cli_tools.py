"""The one check of the CLI's bad-input contract: exit status 2, one ``qmu-kit: error:`` line on
stderr, no traceback, nothing on stdout."""

from __future__ import annotations

PREFIX = "qmu-kit: error: "


def usage_error(argv, capsys) -> str:
    """Run ``qmu-kit ARGV``, check the bad-input contract and return the message after the prefix."""
    from qmu_kit.cli.options import EXIT_BAD_INPUT
    from qmu_kit.cli.commands import main

    assert main(list(argv)) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith(PREFIX) and err.count("\n") == 1 and "Traceback" not in err, err
    assert captured.out == "", captured.out
    return err[len(PREFIX):].strip()
