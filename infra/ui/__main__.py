"""Serve the results page: `python -m infra.ui --port P` (the stack starts it).

Configuration from the environment: the pipeline's settings (shared.config: the database URL,
the storage root and derived bucket, the upload limit), VIDPIPE_UI_KEY (the key in the page's
URL) and VIDPIPE_UI_OWNER (the user it acts for; the local user by default)."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from infra.local.stack import LOCAL_USER_ID
from infra.ui.app import THREADS, UiConfig, create_app, screen_for
from shared.config import get_settings
from shared.serve import make_server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.ui")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = get_settings()
    key = os.environ.get("VIDPIPE_UI_KEY")
    if not key:
        sys.exit("VIDPIPE_UI_KEY is not set: the page opens with a key (the stack makes one)")
    config = UiConfig(
        database_url=settings.database_url.get_secret_value(),
        storage_root=settings.storage_root,
        owner=os.environ.get("VIDPIPE_UI_OWNER", LOCAL_USER_ID),
        key=key,
        derived_bucket=settings.derived_bucket,
        port=args.port,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # The doors' server and limits (deadlines against slow clients), with uploads up to the
    # pipeline's own limit, judged on their headers and written where they are kept.
    app = create_app(config)
    make_server(
        app,
        args.host,
        args.port,
        settings,
        max_body=settings.max_upload_bytes + 1,  # waitress refuses a body of max_body bytes or more
        threads=THREADS,
        screen=screen_for(app),
    ).run()


if __name__ == "__main__":
    main()
