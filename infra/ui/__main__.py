"""Serve the results page: `python -m infra.ui --port P` (the stack starts it).

Configuration from the environment: VIDPIPE_DATABASE_URL, VIDPIPE_STORAGE_ROOT, VIDPIPE_UI_KEY
(the key in the page's URL) and VIDPIPE_UI_OWNER (the user it acts for; the local user)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from waitress import serve

from infra.local.stack import LOCAL_USER_ID
from infra.ui.app import UiConfig, create_app
from shared.config import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.ui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    config = UiConfig(
        database_url=os.environ["VIDPIPE_DATABASE_URL"],
        storage_root=Path(os.environ["VIDPIPE_STORAGE_ROOT"]),
        owner=os.environ.get("VIDPIPE_UI_OWNER", LOCAL_USER_ID),
        key=os.environ["VIDPIPE_UI_KEY"],
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Each open page holds a thread for its event stream; uploads up to the pipeline's own limit
    # are buffered by waitress before the app sees them.
    serve(
        create_app(config),
        host=args.host,
        port=args.port,
        threads=16,
        max_request_body_size=get_settings().max_upload_bytes,
        ident="vidpipe-ui",
    )


if __name__ == "__main__":
    main()
