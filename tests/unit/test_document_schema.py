import json

from shared import webhook_payload
from shared.metadata.document import SCHEMA_FILE, SCHEMA_VERSION, json_schema


def test_the_committed_json_schema_is_the_models():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json_schema(), "the document model changed: run `vidpipe schema` and commit the file"
    assert committed["$id"].endswith(f"v{SCHEMA_VERSION}.json")
    assert {"technical", "thumbnails", "storyboard", "loudness", "scenes", "absent"} <= set(committed["properties"])


def test_the_committed_webhook_payload_schema_is_the_models():
    committed = json.loads(webhook_payload.SCHEMA_FILE.read_text())
    assert committed == webhook_payload.json_schema(), "the payload model changed: run `vidpipe schema` and commit"
    assert committed["required"] == ["type", "timestamp", "data"]
