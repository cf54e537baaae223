"""Run every measurement under bench/ and print one table."""

from __future__ import annotations

from . import lab_start


def main() -> None:
    lab_start.main()


if __name__ == "__main__":
    main()
