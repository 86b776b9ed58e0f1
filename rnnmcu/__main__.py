"""``python -m rnnmcu``: the same as the ``rnnmcu`` command."""
from rnnmcu.cli import main

if __name__ == "__main__":
    main(prog_name="rnnmcu")
