"""Serve the results page: `python -m infra.ui --port P` (the stack starts it).

Configuration from the environment: the pipeline's settings (shared.config: the database URL,
the storage root and derived bucket, the upload limit), VIDPIPE_UI_KEY (the key in the page's
URL) and VIDPIPE_UI_OWNER (the user it acts for; the local user by default)."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from waitress import serve

from infra.local.stack import LOCAL_USER_ID
from infra.ui.app import THREADS, UiConfig, create_app
from shared.config import get_settings


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
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Uploads up to the pipeline's own limit are buffered by waitress before the app sees them.
    serve(
        create_app(config),
        host=args.host,
        port=args.port,
        threads=THREADS,
        max_request_body_size=settings.max_upload_bytes,
        ident="vidpipe-ui",
    )


if __name__ == "__main__":
    main()
