"""`bench speed memory` prints peak RSS figures (never asserted on): here only that both child runs work."""

from __future__ import annotations


def test_speed_memory_measures_a_long_resized_clip_in_its_own_process(mini_data_root):
    from benchmark.tools.speed.memory import run

    printed: list[str] = []
    figures = run(
        n_frames=40, side=160, metrics="psnr,cpbd", mini_all=False, prepared_data=mini_data_root, echo=printed.append
    )
    long_clip = figures["long_clip"]
    assert long_clip["exit"] == 0 and long_clip["frames"] == 40, printed
    assert long_clip["peak_rss_mib"] > 50  # the child's own peak: python, numpy, torch at least
    assert long_clip["clip_mib_at_protocol_size"] == 40 * 256 * 256 * 3 / 2**20  # the prepared clip is 256x256
    assert printed[-1].startswith("one 40-frame clip, output 160x160 resized while decoding")
