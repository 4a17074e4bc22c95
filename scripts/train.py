"""Thin wrapper: ``python scripts/train.py ARGS`` == ``fpo-loco train ARGS``."""

import sys

from fpo_locomotion.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
