import pytest

from infra.cli import storage_name
from infra.dispatcher import judge
from shared.models import Delivery


@pytest.mark.parametrize(
    "code, action",
    [
        (200, "ack"),
        (204, "ack"),
        (409, "ack"),
        (400, "dead"),
        (401, "dead"),
        (404, "dead"),
        (413, "dead"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),
    ],
)
def test_judge(code, action):
    assert judge(Delivery(code, None if code else "ConnectionError", 5)).action == action


def test_storage_name_is_owner_scoped_and_safe():
    from pathlib import Path

    name = storage_name(Path('/x/My Holiday\'s "best".mp4'))
    owner, rest = name.split("/")
    assert owner == "00000000-0000-4000-8000-000000000001"
    assert rest.endswith("-My_Holiday_s__best_.mp4")
