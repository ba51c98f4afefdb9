"""`python -m bot`: the same as the `streamstats` command (see `bot/cli.py`)."""

from bot.cli import main

if __name__ == "__main__":
    main()
