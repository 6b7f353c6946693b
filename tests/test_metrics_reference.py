"""PSNR and SSIM against scikit-image (the oracle) on real frames."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmark.core.types import Video
from metrics.context import ClipContext
from metrics.psnr import PSNR, psnr_frames
from metrics.ssim import SSIM, ssim_per_frame


def _pairs(mini):
    """Real image pairs: mini frames vs other frames, the photo vs blurred / noisy / shifted copies."""
    rng = np.random.default_rng(0)
    clip = mini.clips()[0]
    frames = clip.load_frames()
    photo = data.astronaut()[100:356, 120:376]
    noisy = np.clip(photo + rng.normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
    blurred = (
        np.stack([gaussian_filter(photo[..., c].astype(float), 2.0) for c in range(3)], -1).round().astype(np.uint8)
    )
    return [
        (frames[0], frames[40]),
        (frames[10], frames[11]),
        (photo, noisy),
        (photo, blurred),
        (photo, np.roll(photo, 3, axis=1)),
        (photo, clip.load_identity()),
    ]


def _t(image):
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].double()


def test_ssim_matches_skimage_gaussian_wang2004(mini):
    for a, b in _pairs(mini):
        ref = structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
        )
        ours = float(ssim_per_frame(_t(a).float(), _t(b).float(), 255.0))  # float32, as the metric computes
        assert abs(ours - ref) <= 1e-6, (ours, ref)


def test_psnr_matches_skimage(mini):
    for a, b in _pairs(mini):
        ref = peak_signal_noise_ratio(a, b, data_range=255)
        ours = float(psnr_frames(a, b)[0])
        assert abs(ours - ref) <= 1e-3, (ours, ref)


def test_clip_scores_average_per_frame_values(mini):
    clip = mini.clips()[1]
    ref = clip.load_frames()
    gen = np.repeat(clip.load_identity()[None], clip.n_frames, 0)
    expected_ssim = np.mean(
        [
            structural_similarity(
                g, r, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
            )
            for g, r in zip(gen, ref)
        ]
    )
    expected_psnr = (
        np.mean(  # identical frames (mini v3 starts at the identity's rest pose): capped at 100 dB, skimage gives inf
            [min(peak_signal_noise_ratio(r, g, data_range=255), 100.0) for g, r in zip(gen, ref)]
        )
    )
    ctx = ClipContext(clip, Video(gen, 25.0), ref)
    assert SSIM().score_clip(ctx).value == pytest.approx(expected_ssim, abs=1e-4)
    assert PSNR().score_clip(ctx).value == pytest.approx(expected_psnr, abs=1e-3)


def test_identical_frames_hit_the_documented_cap_not_inf(mini):
    clip = mini.clips()[0]
    ref = clip.load_frames()[:5]
    result = PSNR().score_clip(ClipContext(clip, Video(ref.copy(), 25.0), ref))
    assert result.value == 100.0
    assert result.extras["frames_at_cap"] == 5


def test_metrics_declare_direction_variant_and_parameters():
    for metric in (PSNR(), SSIM()):
        spec = metric.spec.to_dict()
        assert spec["direction"] == "higher"
        assert spec["variant"] == metric.name
        assert spec["params"]["data_range"] == 255.0
    assert SSIM().spec.params["sigma"] == 1.5
    with pytest.raises(ValueError, match="no variant"):
        SSIM(variant="ssim-uniform7")


@pytest.mark.parametrize("size,noise", [((17, 31), 1.0), ((64, 48), 20.0), ((256, 256), 60.0), ((8, 8), 0.0)])
def test_psnr_exact_integer_path_equals_skimage_on_synthesised_frames(size, noise):
    rng = np.random.default_rng(int(noise) + size[0])
    a = rng.integers(0, 256, (5, *size, 3), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, noise, a.shape), 0, 255).astype(np.uint8)
    ours = psnr_frames(a, b)
    for t in range(5):
        if np.array_equal(a[t], b[t]):
            assert ours[t] == 100.0  # identical frames: the cap, never inf
        else:
            assert abs(ours[t] - peak_signal_noise_ratio(a[t], b[t], data_range=255)) <= 1e-10


@pytest.mark.parametrize("level", [0, 6, 128, 249, 255])
@pytest.mark.parametrize("noise", [0.5, 3.0, 40.0])
def test_ssim_float32_stays_inside_the_tolerance_on_flat_and_bright_frames(level, noise):
    """Nearly flat frames at the ends of the range are the worst case for float32 moments."""
    rng = np.random.default_rng(level * 100 + int(noise * 10))
    a = np.clip(level + rng.normal(0, noise, (2, 72, 88, 3)), 0, 255).astype(np.uint8)
    b = np.clip(a + rng.normal(0, noise, a.shape), 0, 255).astype(np.uint8)
    ours = (
        ssim_per_frame(
            torch.from_numpy(a).permute(0, 3, 1, 2).float(), torch.from_numpy(b).permute(0, 3, 1, 2).float(), 255.0
        )
        .double()
        .numpy()
    )
    ref = [
        structural_similarity(
            x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
        )
        for x, y in zip(a, b)
    ]
    assert np.abs(ours - ref).max() <= 5e-5  # half the calibration tolerance


@pytest.mark.parametrize("shape", [(3, 7, 5, 3), (2, 256, 256, 3), (1, 1080, 1920, 3)])
def test_psnr_compiled_sums_equal_the_numpy_integers(shape):
    """The numba loop and numpy's int16/int64 path give the same integers, extremes included
    (0 against 255 everywhere: 255^2 per value, ~1.3e11 for a 1080p frame)."""
    from metrics.psnr import squared_errors

    rng = np.random.default_rng(shape[1])
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = rng.integers(0, 256, shape, dtype=np.uint8)
    a[0], b[0] = 0, 255
    numpy_sums = squared_errors(a, b, compiled=False)
    compiled_sums = squared_errors(a, b, compiled=True)
    assert compiled_sums.dtype == np.int64
    assert np.array_equal(compiled_sums, numpy_sums)
    assert numpy_sums[0] == 255**2 * a[0].size
    view = a[:, ::-1]  # not contiguous: copied, same numbers
    assert np.array_equal(squared_errors(view, b, compiled=True), squared_errors(view, b, compiled=False))
