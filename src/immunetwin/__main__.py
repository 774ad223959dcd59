"""``python -m immunetwin``: the command line."""

from immunetwin.cli import main

if __name__ == "__main__":
    main()
