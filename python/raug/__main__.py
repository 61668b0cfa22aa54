"""The ``raug`` command of the wheel (and ``python -m raug``): the Rust command line itself."""

import sys


def main() -> None:
    """Runs ``raug`` with this process's arguments and exits with its code."""
    from . import _raug

    sys.stdout.flush()
    sys.exit(_raug.main(["raug"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
