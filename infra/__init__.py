"""vidpipe's infrastructure: the embedded local stack, the dispatcher and the CLI."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
