"""What of ffmpeg's diagnostics reaches a user: never where the instance keeps its files."""

from shared.media.ffmpeg_tools import scrub_paths


def test_the_commands_files_lose_their_folders_even_with_spaces():
    said = "file:/home/me/My Projects/storage/uploads/u/clip.mp4: Invalid data found when processing input"
    assert scrub_paths(said, ["-i", "file:/home/me/My Projects/storage/uploads/u/clip.mp4"]) == (
        "file:clip.mp4: Invalid data found when processing input"
    )


def test_other_absolute_paths_lose_their_folders_and_ratios_stay():
    said = "[Parsed_metadata_3] could not open metadata=print:file=/tmp/work-1/meta/x.txt; aspect 16/9, fps=1/10"
    assert (
        scrub_paths(said, ["-vf", "fps=1/10"])
        == "[Parsed_metadata_3] could not open metadata=print:file=x.txt; aspect 16/9, fps=1/10"
    )
