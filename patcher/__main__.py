"""``python -m patcher``."""

from patcher.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
