"""Choosing the poster among the interval thumbnails: not black, not flat, and the sharpest
(most edge detail times contrast) of the rest. The choice says which rule made it."""

from __future__ import annotations

from shared.media.models import PictureStats, PosterChoice, PosterRule

# Limited-range luma: black sits at 16, so a frame averaging under 28 is black to the eye.
BLACK_LUMA_MEAN = 28.0
# A frame whose 10th and 90th luma percentiles are this close is one flat colour (a slate, a fade).
FLAT_CONTRAST = 20.0


def sharpness(stats: PictureStats) -> float:
    return round(stats.edge_density * stats.contrast, 3)


def choose_poster(thumbnails: list[PictureStats]) -> PosterChoice | None:
    if not thumbnails:
        return None
    black = [s.luma_mean < BLACK_LUMA_MEAN for s in thumbnails]
    flat = [not b and s.contrast < FLAT_CONTRAST for s, b in zip(thumbnails, black, strict=True)]
    usable = [i for i in range(len(thumbnails)) if not black[i] and not flat[i]]
    rule: PosterRule = "sharpest_of_usable"
    if not usable:  # every frame is black or flat: take the one with the most to see
        usable, rule = list(range(len(thumbnails))), "least_flat_of_all"
    best = max(usable, key=lambda i: (sharpness(thumbnails[i]), thumbnails[i].contrast, -i))
    return PosterChoice(
        index=best,
        time=thumbnails[best].time,
        score=sharpness(thumbnails[best]),
        rule=rule,
        candidates=len(thumbnails),
        rejected_black=sum(black),
        rejected_flat=sum(flat),
    )
