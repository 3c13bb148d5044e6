"""AFFNet / AFIDAF / HAFIDAF: exact parameter counts, the digest's property tests (§10.1), the
DFT-matrix backend, FFT MACs and the 8-group width rule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from slimkit.measure import count_macs, count_params, fft_macs
from slimkit.models import build_model
from slimkit.models.fourier import (
    AFFMixer,
    FourierBlock,
    ImageDomainFilter,
    fft_backend,
    irfft2,
    rfft2,
)


@pytest.mark.parametrize(
    ("name", "classes", "expected"),
    [
        ("affnet_et", 1000, 1_436_264),  # official README / digest §10.3
        ("affnet_t", 1000, 2_654_232),
        ("affnet", 1000, 5_568_696),
        ("affnet_et_cifar", 10, 865_034),  # digest §10.4
        ("affnet_t_cifar", 10, 1_892_922),
    ],
)
def test_affnet_parameter_counts_are_the_official_ones(
    name: str, classes: int, expected: int
) -> None:
    assert count_params(build_model(name, num_classes=classes)) == expected


def test_afidaf_budgets_and_the_mask_is_the_afidaf_idaf_difference() -> None:
    afidaf, idaf = build_model("afidaf", num_classes=1000), build_model("idaf", num_classes=1000)
    afidaf_t = build_model("afidaf_t", num_classes=1000)
    # paper: 6.5 M / 6.2 M / 3.0 M (digest §4.4); ours 6,343,288 / 6,033,272 / 2,994,072
    assert count_params(afidaf) == 6_343_288 and abs(count_params(afidaf) / 6.5e6 - 1) < 0.03
    assert count_params(idaf) == 6_033_272 and abs(count_params(idaf) / 6.2e6 - 1) < 0.03
    assert count_params(afidaf_t) == 2_994_072 and abs(count_params(afidaf_t) / 3.0e6 - 1) < 0.01
    masks = sum(count_params(m) for m in afidaf.modules() if isinstance(m, AFFMixer))
    assert count_params(afidaf) - count_params(idaf) == masks == 310_016  # digest: "310 K"


@pytest.mark.parametrize("channels", [128, 256])
def test_mixer_parameters_are_c2_over_2_plus_4c(channels: int) -> None:
    assert count_params(AFFMixer(channels)) == channels**2 // 2 + 4 * channels  # 8,704 / 33,792


def test_zero_second_layer_makes_the_mixer_an_exact_identity() -> None:
    mixer = AFFMixer(16)
    with torch.no_grad():
        mixer.w2.zero_()
        mixer.b2.zero_()
    x = torch.randn(2, 16, 9, 7)
    assert torch.equal(mixer(x), x)


def _official_mask(mixer: AFFMixer, x: torch.Tensor) -> torch.Tensor:
    """The mask ``M(X)`` written as the official code's per-bin complex einsums (digest §2.1)."""
    b, c, h, w = x.shape
    spec = torch.fft.rfft2(x, norm="ortho").reshape(b, mixer.groups, c // mixer.groups, h, -1)

    def layer(z: torch.Tensor, wt: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        weight = torch.complex(wt[0], wt[1])
        return (
            torch.einsum("bkihw,kio->bkohw", z, weight)
            + torch.complex(bias[0], bias[1])[None, :, :, None, None]
        )

    hidden = layer(spec, mixer.w1, mixer.b1)
    hidden = torch.complex(mixer.act(hidden.real), mixer.act(hidden.imag))
    out = layer(hidden, mixer.w2, mixer.b2)
    lam = mixer.sparsity_threshold
    return torch.complex(
        torch.nn.functional.softshrink(out.real, lam), torch.nn.functional.softshrink(out.imag, lam)
    ).reshape(b, c, h, -1)


@pytest.mark.parametrize("d_in", [4, 3])  # 3: a pruned mixer, d_in != the hidden width
def test_grouped_conv_mask_equals_the_official_einsums(d_in: int) -> None:
    torch.manual_seed(0)
    mixer = AFFMixer(32)
    with torch.no_grad():  # larger weights than the 0.02 init, so softshrink keeps most entries
        mixer.w1.data = torch.randn(2, 8, d_in, 4)
        mixer.w2.data = torch.randn(2, 8, 4, d_in)
        mixer.b1.normal_()
        mixer.b2.data = torch.randn(2, 8, d_in)
    mixer.channels = 8 * d_in
    x = torch.randn(2, 8 * d_in, 6, 5)
    spec = torch.fft.rfft2(x, norm="ortho")
    expected = torch.fft.irfft2(spec * _official_mask(mixer, x), s=(6, 5), norm="ortho")
    assert torch.allclose(mixer.delta(x), expected, atol=1e-4)  # measured max diff ~1e-6


def _circular_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y[h, w] = Σ_{i, j} x[i, j] · k[(h - i) mod H, (w - j) mod W]`` per channel, directly."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    for i in range(h):
        for j in range(w):
            shifted = torch.roll(kernel, shifts=(i, j), dims=(-2, -1))
            out += x[..., i : i + 1, j : j + 1] * shifted
    return out


@pytest.mark.parametrize(("h", "w"), [(6, 8), (5, 7)])
@pytest.mark.parametrize("backend", ["fft", "matmul"])
def test_a_constant_mask_is_a_global_circular_convolution(h: int, w: int, backend: str) -> None:
    # digest §2.2 / §10.1 test 2: irfft2(rfft2(x) ⊙ M) = x ⊛ irfft2(M) (backward norm), any W
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, h, w, dtype=torch.float64, generator=g)
    mask = torch.randn(3, h, w // 2 + 1, 2, dtype=torch.float64, generator=g)
    mask[..., 0, 0, 1] = 0  # the DC bin of a real kernel's spectrum is real
    if w % 2 == 0:
        mask[..., :, -1, 1] = 0
    mask = torch.view_as_complex(mask)
    kernel = torch.fft.irfft2(torch.fft.rfft2(torch.fft.irfft2(mask, s=(h, w))), s=(h, w))
    spectrum = torch.fft.rfft2(kernel)  # the Hermitian-consistent version of the mask
    re, im = rfft2(x, backend)
    y = irfft2(re * spectrum.real - im * spectrum.imag, re * spectrum.imag + im * spectrum.real,
               (h, w), backend)  # fmt: skip
    assert torch.allclose(y, _circular_conv(x, kernel), atol=1e-10)


def test_the_mixer_with_a_constant_mask_convolves_with_its_kernel() -> None:
    # w1 = w2 = 0: the mask is softshrink(b2), the same at every frequency bin
    mixer = AFFMixer(8, groups=8).double()
    with torch.no_grad():
        mixer.w1.zero_()
        mixer.w2.zero_()
        mixer.b2.copy_(torch.randn_like(mixer.b2))
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    m = torch.nn.functional.softshrink(mixer.b2, 0.01).reshape(2, 8)
    mask = torch.complex(m[0], m[1])[:, None, None].expand(8, 6, 4)
    kernel = torch.fft.irfft2(mask, s=(6, 6))
    assert torch.allclose(mixer.delta(x).double(), _circular_conv(x, kernel), atol=1e-5)


@pytest.mark.parametrize(("h", "w"), [(8, 8), (7, 5), (6, 9)])
def test_matmul_backend_equals_torch_fft(h: int, w: int) -> None:
    mixer = AFFMixer(16)
    x = torch.randn(2, 16, h, w)
    reference = mixer(x)
    with fft_backend(mixer, "matmul") as switched:
        assert switched == 1
        assert torch.allclose(mixer(x), reference, atol=1e-5)
    assert mixer.fft_backend == "fft"


def test_mixer_runs_fp32_inside_autocast_and_returns_the_input_dtype() -> None:
    mixer = AFFMixer(16)
    x = torch.randn(1, 16, 8, 8).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = mixer(x)
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), mixer(x.float()), atol=0.1)


@pytest.mark.parametrize("name", ["afidaf_tiny", "affnet_tiny", "hafidaf_mini"])
@pytest.mark.parametrize("size", [(32, 32), (40, 40), (36, 28)])
def test_models_accept_other_resolutions(name: str, size: tuple[int, int]) -> None:
    model = build_model(name, num_classes=5).eval()
    assert model(torch.randn(1, 3, *size)).shape == (1, 5)


def test_imagenet_affnet_runs_at_several_resolutions() -> None:
    model = build_model("affnet_et", num_classes=10).eval()
    for side in (224, 250):  # digest §10.1 test 4 (224, 250, 256, 288)
        assert model(torch.randn(1, 3, side, side)).shape == (1, 10)


def test_orders_and_switches_change_the_block() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    outputs = {}
    for order in ("IF", "FI", "parallel"):
        torch.manual_seed(1)
        block = FourierBlock(16, 32, image_filter=True, order=order).eval()
        outputs[order] = block(x)
    assert not torch.allclose(outputs["IF"], outputs["FI"])
    assert not torch.allclose(outputs["IF"], outputs["parallel"])
    plain = FourierBlock(16, 32, mask=False, image_filter=False).eval()
    u = plain.norm2(plain.ffn(plain.norm1(x)))
    assert torch.allclose(plain(x), x + u)  # no filter at all: x + u


def test_image_filter_has_the_van_receptive_field() -> None:
    # 5x5 then 7x7 dilation 3: 5 + 6·3 = 23 (VAN and digest §4.2 call it 21x21, its nominal K)
    filt = ImageDomainFilter(4)
    x = torch.zeros(1, 4, 31, 31, requires_grad=True)
    filt.delta(x + 1.0)[0, :, 15, 15].sum().backward()
    rows = torch.nonzero(x.grad[0].abs().sum(0).sum(1)).flatten()
    assert int(rows.max() - rows.min()) + 1 == 23


def test_width_not_divisible_by_the_mask_groups_names_the_layer() -> None:
    from slimkit.models.fourier import AFFNet, AFFNetConfig

    config = AFFNetConfig(2, 16, 16, ((16, 32, 1), (20, 40, 1), (32, 64, 1)))
    with pytest.raises(ValueError, match=r"^layer4: width 20 is not divisible by the Fourier "
                                         r"mask's 8 groups; use a multiple of 8$"):  # fmt: skip
        AFFNet(config, 10, cifar=True)
    AFFNet(config, 10, cifar=True, mask=False)  # IDAF has no mask: any width


def test_fft_macs_of_one_mixer_match_a_hand_calculation() -> None:
    c, h, w = 16, 8, 8
    # two real 2-D transforms per channel: 2 · C · 5/4 · N · log2 N, N = H·W
    fft = 2 * c * 5 / 4 * (h * w) * math.log2(h * w)
    # mask MLP: 2 layers x 4 real products of (K x d x d) per frequency bin (H x (W/2 + 1))
    mlp = 2 * 4 * 8 * (c // 8) ** 2 * h * (w // 2 + 1)
    mixer = AFFMixer(c)
    assert fft_macs(mixer, (c, h, w)) == fft == 15_360
    assert count_macs(mixer, (c, h, w)) == fft + mlp == 25_600


def test_hafidaf_mini_is_smaller_than_the_mini_swin() -> None:
    hafidaf, swin = build_model("hafidaf_mini"), build_model("swin_mini")
    assert count_params(hafidaf) == 2_221_594 and count_params(swin) == 5_116_468
    assert count_macs(hafidaf, (3, 32, 32)) < count_macs(swin, (3, 32, 32))
    assert isinstance(swin, nn.Module) and type(swin).__module__.startswith("timm")


def test_fourier_backbones_feed_the_detector_and_the_segmentation_head() -> None:
    from slimkit.models.detection import build_fcos, build_feature_backbone
    from slimkit.models.segmentation import build_seg_lraspp

    body = build_feature_backbone("afidaf_tiny")
    assert body.channels == [16, 16, 24] and body.strides == [2, 4, 8]
    assert not any(isinstance(m, nn.Linear) for m in body.modules())  # classifier dropped
    detector = build_fcos(num_classes=3, backbone="afidaf_tiny", fpn_channels=16, head_convs=1)
    out = detector.eval()(torch.randn(1, 3, 64, 64))
    assert sorted(out[0]) == ["boxes", "labels", "scores"]
    seg = build_seg_lraspp(num_classes=3, backbone="affnet_tiny", inter_channels=8).eval()
    assert seg(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="stem_stride applies to zoo CIFAR ResNets only"):
        build_feature_backbone("afidaf_tiny", stem_stride=2)
