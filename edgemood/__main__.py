"""``python -m edgemood``: the ``edgemood`` command."""

from edgemood.cli import main

main()
