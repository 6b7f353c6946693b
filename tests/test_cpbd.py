"""CPBD against the reference `cpbd` package (cpbd-py312 1.0.3) on real images."""

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.feature import canny

cpbd = pytest.importorskip("cpbd")
from cpbd.compute import marziliano_method  # noqa: E402
from cpbd.octave import sobel as reference_sobel  # noqa: E402

from metrics.cpbd import (  # noqa: E402
    canny_edges,
    cpbd_frames,
    cpbd_video,
    marziliano_widths,
    octave_sobel_edges,
    rgb_to_luma,
)


def _astronaut(size):
    return np.asarray(Image.fromarray(data.astronaut()).convert("L").resize((size, size), Image.BICUBIC)).astype(
        np.float64
    )


def _images(mini):
    rng = np.random.default_rng(0)
    images = {f"astronaut{s}": _astronaut(s) for s in (128, 256, 512, 1024)}
    base = images["astronaut256"]
    images["blurred"] = np.round(gaussian_filter(base, 2.0))
    images["noisy"] = np.clip(np.round(base + rng.normal(0, 12, base.shape)), 0, 255)
    frames = mini.clips()[3].load_frames()
    for t in (0, 33):
        images[f"mini{t}"] = rgb_to_luma(frames[t])
    return images


def test_luma_is_pil_L(mini):
    frame = mini.clips()[0].load_frames()[5]
    assert np.array_equal(rgb_to_luma(frame), np.asarray(Image.fromarray(frame).convert("L")).astype(np.float64))


def test_cpbd_agrees_with_the_reference_to_1e_6(mini):
    for name, image in _images(mini).items():
        ours = cpbd_frames(image)[0]
        reference = cpbd.compute(image)
        assert abs(ours - reference) <= 1e-6, (name, ours, reference)


def test_intermediate_edge_maps_are_the_reference_ones(mini):
    for name, image in _images(mini).items():
        if image.shape[0] > 512:
            continue  # the reference's per-pixel loops take seconds there; the value test covers it
        assert np.array_equal(canny_edges(image[None])[0], canny(image)), name
        sobel = reference_sobel(image)
        assert np.array_equal(octave_sobel_edges(image[None])[0], sobel), name
        assert np.array_equal(marziliano_widths(image[None], sobel[None])[0], marziliano_method(sobel, image)), name


def test_batched_and_threaded_equal_frame_by_frame(mini):
    frames = mini.clips()[1].load_frames()[:10]
    one_by_one = np.array([cpbd_frames(rgb_to_luma(f))[0] for f in frames])
    assert np.array_equal(cpbd_video(frames, workers=1), one_by_one)
    assert np.array_equal(cpbd_video(frames, workers=2), one_by_one)


def test_reference_quirks_are_kept():
    flat = np.full((128, 128), 100.0)
    assert cpbd_frames(flat)[0] == cpbd.compute(flat) == 0.0
    ramp = np.tile(np.arange(128.0), (128, 1))  # every gradient angle is 0: the reference measures nothing
    ramp[:, 64:] += 60
    assert cpbd_frames(ramp)[0] == cpbd.compute(ramp)


def test_torch_path_gives_the_same_edge_maps_and_values(mini):
    """The GPU implementation, run on CPU here: identical maps, values equal to float rounding."""
    import torch

    from metrics import cpbd_torch as T

    gray = np.stack(
        [
            _astronaut(256),
            rgb_to_luma(mini.clips()[2].load_frames()[12]),
            np.round(gaussian_filter(_astronaut(256), 1.0)),
        ]
    )
    g = torch.from_numpy(gray)
    sobel = octave_sobel_edges(gray)
    assert torch.equal(T.canny_edges_torch(g), torch.from_numpy(canny_edges(gray)))
    assert torch.equal(T.octave_sobel_edges_torch(g), torch.from_numpy(sobel))
    assert torch.equal(
        T.marziliano_widths_torch(g, torch.from_numpy(sobel)), torch.from_numpy(marziliano_widths(gray, sobel))
    )
    assert np.abs(T.cpbd_frames_torch(g).numpy() - cpbd_frames(gray)).max() <= 1e-12


def _colour_crops():
    """Colourful RGB inputs where BT.601 and BT.709 grey differ: astronaut crops of several sizes, one blurred."""
    photo = data.astronaut()
    crops = {f"crop{s}": photo[40 : 40 + s, 100 : 100 + s] for s in (128, 192, 256)}
    crops["blurred"] = (
        np.stack([gaussian_filter(crops["crop256"][..., c].astype(float), 1.5) for c in range(3)], -1)
        .round()
        .astype(np.uint8)
    )
    return crops


def test_bt709_grey_is_bit_identical_to_skimage_rgb2gray():
    from skimage.color import rgb2gray

    from metrics.cpbd import rgb_to_bt709

    rng = np.random.default_rng(7)
    for image in [*_colour_crops().values(), rng.integers(0, 256, (3, 64, 80, 3), dtype=np.uint8)]:
        assert np.array_equal(rgb_to_bt709(image), rgb2gray(image) * 255)


def test_cpbd_bt709_variant_matches_the_package_on_bt709_grey_and_differs_from_the_default():
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    from benchmark.core.settings import Settings
    from metrics import create_metric
    from metrics.cpbd import GREY_CONVERSIONS

    settings = Settings.create(environ={})
    default, bt709 = create_metric("cpbd", settings), create_metric("cpbd-bt709", settings)
    # a new name for the rounded grey: columns of the unrounded "skimage-rgb2gray-bt709" are not mixed in
    assert default.params["color"] == "pil-L-luma" and bt709.params["color"] == "skimage-rgb2gray-bt709-uint8"
    assert {k: v for k, v in default.params.items() if k != "color"} == {
        k: v for k, v in bt709.params.items() if k != "color"
    }
    gaps = []
    for name, rgb in _colour_crops().items():
        ours = cpbd_video(rgb[None], workers=1, to_grey=GREY_CONVERSIONS[bt709.params["color"]])[0]
        assert abs(ours - cpbd.compute(img_as_ubyte(rgb2gray(rgb)))) <= 1e-12, name
        gaps.append(abs(ours - cpbd_video(rgb[None], workers=1)[0]))
    assert max(gaps) > 0.01  # the grey convention alone moves CPBD: why it is a named variant


def _synthetic_rgb(size: int = 128) -> dict[str, np.ndarray]:
    """Colour frames of several kinds: noise and its blurs, gradients, rectangles and their blurs, a disc."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:size, 0:size]

    def blur(image, sigma):
        return np.stack([gaussian_filter(image[..., c], sigma) for c in range(3)], -1)

    noise = rng.integers(0, 256, (size, size, 3)).astype(float)
    ramp = np.stack([xx * 255 / size, yy * 255 / size, (xx + yy) * 127 / size], -1)
    rectangles = np.full((size, size, 3), 128.0)
    for _ in range(24):
        y, x = rng.integers(0, size - 8, 2)
        h, w = rng.integers(6, size // 3, 2)
        rectangles[y : y + h, x : x + w] = rng.integers(0, 256, 3)
    disc = ((xx - size / 2) ** 2 + (yy - size / 3) ** 2 < (size / 4) ** 2)[..., None] * np.array(
        [90, 180, 40]
    ) + ramp * 0.3
    frames = {
        "noise": noise,
        "gradient": ramp,
        "gradient + noise": ramp + rng.normal(0, 8, ramp.shape),
        "rectangles": rectangles,
        "rectangles blur 1": blur(rectangles, 1.0),
        "rectangles blur 2.5": blur(rectangles, 2.5),
        "disc on gradient": disc,
        "disc blur 1.2 + noise": blur(disc, 1.2) + rng.normal(0, 4, disc.shape),
    }
    frames.update({f"noise blur {s}": blur(noise, s) * 3 - 256 for s in (0.7, 1.5, 3.0)})
    return {k: np.clip(np.round(v), 0, 255).astype(np.uint8) for k, v in frames.items()}


def test_cpbd_bt709_rounds_its_grey_as_the_packages_uint8_input_on_every_kind_of_frame():
    """The reference is the `cpbd` package fed round(255 * rgb2gray) as uint8, what a grey image file
    holds; unrounded float grey once put the variant up to 0.48 from it on these frames (8 of 11)."""
    import torch
    from skimage.color import rgb2gray
    from skimage.util import img_as_ubyte

    from benchmark.core.settings import Settings
    from metrics import create_metric
    from metrics.context import ClipContext
    from metrics.cpbd import GREY_CONVERSIONS
    from metrics.cpbd_torch import cpbd_frames_torch
    from benchmark.core.video import Video

    metric = create_metric("cpbd-bt709", Settings.create(environ={}))
    to_grey = GREY_CONVERSIONS[metric.params["color"]]
    frames = _synthetic_rgb()
    references = {name: cpbd.compute(img_as_ubyte(rgb2gray(rgb))) for name, rgb in frames.items()}
    for name, rgb in frames.items():
        assert abs(cpbd_frames(to_grey(rgb))[0] - references[name]) <= 1e-12, name
        # the CUDA path takes the same grey to the device: its code, run here on the CPU
        assert abs(float(cpbd_frames_torch(torch.from_numpy(to_grey(rgb[None])))[0]) - references[name]) <= 1e-12, name
    clip = np.stack(list(frames.values()))
    expected = np.mean(list(references.values()))
    ctx = ClipContext(clip=None, generated=Video(clip, 25.0), reference=clip, settings=metric.settings)
    assert abs(metric.score_clip(ctx).value - expected) <= 1e-12  # the metric as a run scores a clip


def test_edge_maps_match_the_reference_on_non_integer_grey():
    """BT.709 grey is not integer: the Sobel step then follows the reference's 2-D convolution, so ties thin alike."""
    import torch

    from metrics.cpbd_torch import cpbd_frames_torch, octave_sobel_edges_torch

    rng = np.random.default_rng(4)
    for sigma in (0.8, 1.5, 3.0):
        image = gaussian_filter(rng.uniform(0, 255, (96, 128)), sigma)
        assert np.array_equal(octave_sobel_edges(image[None])[0], reference_sobel(image)), sigma
        assert abs(cpbd_frames(image)[0] - cpbd.compute(image)) <= 1e-12, sigma
        tensor = torch.from_numpy(image)[None]  # the CUDA path's code, run on the CPU
        assert np.array_equal(octave_sobel_edges_torch(tensor)[0].numpy(), reference_sobel(image)), sigma
        assert abs(float(cpbd_frames_torch(tensor)[0]) - cpbd.compute(image)) <= 1e-12, sigma


def _synthetic_greys():
    """Inputs the compiled loops were not written against: odd sizes, blur from none to heavy, noise,
    integer and non-integer grey, flat and ramp frames (the reference's quirks), a 64-wide sliver."""
    rng = np.random.default_rng(11)
    out = []
    for shape, sigma in (((3, 97, 131), 0.0), ((2, 130, 77), 0.8), ((2, 128, 128), 2.5), ((1, 200, 64), 6.0)):
        image = rng.uniform(0, 255, shape)
        if sigma:
            image = gaussian_filter(image, (0, sigma, sigma))
        out += [np.round(image), image]
    astronaut = _astronaut(256)
    out.append(
        np.stack(
            [
                np.clip(np.round(gaussian_filter(astronaut, s) + rng.normal(0, n, astronaut.shape)), 0, 255)
                for s, n in ((0.5, 0), (1.5, 4), (3.0, 15))
            ]
        )
    )
    out.append(np.zeros((2, 70, 70)))
    out.append(np.tile(np.arange(130.0), (2, 130, 1)))
    return out


def test_compiled_steps_are_bit_identical_to_numpy():
    pytest.importorskip("numba")
    for gray in _synthetic_greys():
        for step in (canny_edges, octave_sobel_edges):
            assert np.array_equal(step(gray, compiled=True), step(gray, compiled=False)), (step.__name__, gray.shape)
        sobel = octave_sobel_edges(gray, compiled=False)
        assert np.array_equal(
            marziliano_widths(gray, sobel, compiled=True), marziliano_widths(gray, sobel, compiled=False)
        )
        assert np.array_equal(cpbd_frames(gray, compiled=True), cpbd_frames(gray, compiled=False)), gray.shape
    rgb = np.random.default_rng(2).integers(0, 256, (2, 33, 47, 3), dtype=np.uint8)
    assert np.array_equal(rgb_to_luma(rgb, compiled=True), rgb_to_luma(rgb, compiled=False))
    assert np.array_equal(rgb_to_luma(rgb[0], compiled=True), rgb_to_luma(rgb[0], compiled=False))


def test_both_paths_agree_with_the_package_on_synthetic_frames():
    for gray in _synthetic_greys()[:5]:
        reference = np.array([cpbd.compute(g) for g in gray])
        for compiled in (False, True):
            assert np.abs(cpbd_frames(gray, compiled=compiled) - reference).max() <= 1e-12, (gray.shape, compiled)
