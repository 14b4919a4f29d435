"""``python -m zhsearch``: the command line."""

from zhsearch.search.cli import main

if __name__ == "__main__":
    main(prog_name="zhsearch")
