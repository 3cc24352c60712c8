"""Progress lines: throttled to one per interval, always the last one, with counts, values and ETA."""
import io

from eps.progress import Progress


def test_lines_are_throttled_and_the_last_is_always_printed():
    stream = io.StringIO()
    progress = Progress("train eps", 100, interval=3600, stream=stream)
    for step in range(1, 101):
        progress.update(step, loss=0.5)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[train eps] 100/100 (100%)  loss 0.5") and lines[0].endswith("done")


def test_every_update_with_zero_interval_shows_the_eta():
    stream = io.StringIO()
    progress = Progress("sample", 4, interval=0, stream=stream)
    progress.update(2)
    assert "2/4 (50%)" in stream.getvalue() and "ETA" in stream.getvalue()
    assert Progress("x", 4, enabled=False, stream=stream).update(4) is None and stream.getvalue().count("\n") == 1
