"""``python -m lstmctl.cli``: the ``lstmctl`` command."""

from lstmctl.cli import main

if __name__ == "__main__":
    main()
