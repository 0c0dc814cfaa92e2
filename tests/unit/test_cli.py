from pathlib import Path

from infra.cli import display_name
from infra.local.uploads import storage_name


def test_storage_name_is_owner_scoped_and_safe():
    name = storage_name(Path('/x/My Holiday\'s "best".mp4'))
    owner, rest = name.split("/")
    assert owner == "00000000-0000-4000-8000-000000000001"
    assert rest.endswith("-My_Holiday_s__best_.mp4")


def test_status_shows_the_file_name_people_uploaded():
    assert display_name(storage_name(Path("/x/clip.mp4"))) == "clip.mp4"
    assert display_name("someone/uploaded-directly.mov") == "uploaded-directly.mov"


def test_file_names_reach_the_terminal_as_inert_text():
    from rich.console import Console

    hostile = "someone/\x1b[2J\x1b]0;pwned\x07[bold red]clip\u202egpj.mp4"
    shown = display_name(hostile)
    assert not any(c in shown for c in ("\x1b", "\x07", "\u202e"))
    assert Console().render_str(shown).plain == "[2J]0;pwned[bold red]clipgpj.mp4"  # printed as written
