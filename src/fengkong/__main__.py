"""``python -m fengkong`` is the ``fengkong`` command."""

from fengkong.cli.main import main

main()
