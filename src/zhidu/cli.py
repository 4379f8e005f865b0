"""The `zhidu` command.

`zhidu run` prepares the embedded database and serves the app; every other sub-command is a Django
management command of one of the apps (`zhidu calendar …`, `zhidu pack …`, `zhidu audit verify`,
`zhidu import customers FILE`, `zhidu token USERNAME`, `zhidu worker`, `zhidu migrate`, …).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhidu.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        args = ["help"]
    execute_from_command_line(["zhidu", *args])


if __name__ == "__main__":
    main()
