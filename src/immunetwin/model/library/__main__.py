"""``python -m immunetwin.model.library [DIRECTORY]``: write the model cards."""

from ._cards import main

if __name__ == "__main__":
    raise SystemExit(main())
