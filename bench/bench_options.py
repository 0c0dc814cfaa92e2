"""The command line every benchmark takes: its docstring as --help, and one --option per default,
of the default's type (`flicker_seconds=120` is `--flicker-seconds N`)."""

from __future__ import annotations

import argparse


def options(doc: str | None, **defaults: float | str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in defaults.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return parser.parse_args()
