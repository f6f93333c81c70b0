"""The MTCNN face detector (Zhang et al., 2016): a cascade in the spirit of the 2-stage family.

P-Net, a tiny fully convolutional network, scores a 12×12 window at every position of an image pyramid (a
grid of face probabilities like YOLO's) and proposes boxes; R-Net re-scores 24×24 crops of those proposals;
O-Net re-scores 48×48 crops and adds five facial landmarks.

MTCNN's weights come from the ``facenet-pytorch`` weight pack (see :mod:`cnnviz.weights`); the networks below
are cnnviz's own definitions whose parameter names match those files. The conventions of those weights, which
the cascade follows: RGB input scaled as ``(pixel - 127.5) / 128``; box offsets ordered ``(x1, y1, x2, y2)``
as fractions of the box's width and height; landmarks as five x then five y fractions; and the R-Net/O-Net
fully connected layers read their feature map flattened in ``(W, H, C)`` order (the layout of the framework
the weights were first trained in).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.ops import nms, roi_align

from cnnviz.models.detectors.base import ResizeTransform
from cnnviz.models.registry import (
    ModelSpec,
    Progress,
    WeightsLabel,
    WeightsMissingError,
    build_untrained,
    register,
)
from cnnviz.weights import PACKS, mtcnn_dir

__all__ = ["MTCNN", "MTCNN_SPEC", "FaceCascade", "MTCNNWeights", "ONet", "PNet", "RNet"]

_MTCNN_MEAN = (0.5, 0.5, 0.5)
_MTCNN_STD = (128 / 255, 128 / 255, 128 / 255)  # (pixel - 127.5) / 128, the weights' own scaling


def _prelu_conv(c_in: int, c_out: int, kernel: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(c_in, c_out, kernel_size=kernel), nn.PReLU(c_out)


def _flatten_whc(x: Tensor) -> Tensor:
    """``(N, C, H, W)`` flattened in ``(W, H, C)`` order, the order the weights' FC layers were trained on."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class PNet(nn.Module):
    """MTCNN's proposal network: fully convolutional, it scores every 12×12 window (stride 2) at once.

    Input ``(N, 3, H, W)`` -> ``(face probability (N, 2, h, w), box offsets (N, 4, h, w))`` with
    ``h = ceil((H - 2) / 2) - 4``; channel 1 of the probabilities is "face".
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(10, 16, 3)
        self.conv3, self.prelu3 = _prelu_conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x).softmax(dim=1), self.conv4_2(x)


class RNet(nn.Module):
    """MTCNN's refinement network: re-scores 24×24 crops of the proposals and refines their boxes.

    Input ``(N, 3, 24, 24)`` -> ``(face probability (N, 2), box offsets (N, 4))``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _prelu_conv(48, 64, 2)
        self.dense4 = nn.Linear(64 * 3 * 3, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu4(self.dense4(_flatten_whc(self.prelu3(self.conv3(x)))))
        return self.dense5_1(x).softmax(dim=1), self.dense5_2(x)


class ONet(nn.Module):
    """MTCNN's output network: re-scores 48×48 crops, refines boxes and places five facial landmarks.

    Input ``(N, 3, 48, 48)`` -> ``(face probability (N, 2), box offsets (N, 4), landmarks (N, 10))``; the
    landmarks are five x fractions then five y fractions of the crop (eyes, nose, mouth corners).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _prelu_conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _prelu_conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _prelu_conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _prelu_conv(64, 128, 2)
        self.dense5 = nn.Linear(128 * 3 * 3, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu5(self.dense5(_flatten_whc(self.prelu4(self.conv4(x)))))
        return self.dense6_1(x).softmax(dim=1), self.dense6_2(x), self.dense6_3(x)


@dataclass(frozen=True)
class FaceCascade:
    """Everything the MTCNN cascade produced for one image, stage by stage (boxes in input pixels).

    Attributes:
        scales: the image pyramid's scale factors.
        pnet_maps: per scale, P-Net's ``(h, w)`` face probability; position ``(i, j)`` scores the 12×12
            window at ``(2j, 2i)`` of the scaled image, i.e. a ``12 / scale`` pixel window every
            ``2 / scale`` pixels of the input.
        proposals: ``(P, 4)`` P-Net's boxes above its threshold, after NMS within and across scales and
            their own offsets, made square; best first.
        proposal_scores: ``(P,)``.
        refined: ``(R, 4)`` R-Net's boxes above its threshold, after NMS and offsets, made square; best first.
        refined_scores: ``(R,)``.
        boxes: ``(K, 4)`` O-Net's boxes for every refined box, after its offsets; no threshold and no NMS yet.
        scores: ``(K,)`` O-Net's face probability.
        landmarks: ``(K, 5, 2)`` ``(x, y)`` of left eye, right eye, nose, left and right mouth corner.
        seconds: time of each stage, ``{"P-Net": …, "R-Net": …, "O-Net": …}``.
    """

    scales: tuple[float, ...]
    pnet_maps: tuple[Tensor, ...]
    proposals: Tensor
    proposal_scores: Tensor
    refined: Tensor
    refined_scores: Tensor
    boxes: Tensor
    scores: Tensor
    landmarks: Tensor
    seconds: dict[str, float]


def _square(boxes: Tensor) -> Tensor:
    """Boxes grown to squares around the same centre (the next stage's crops are square)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    return torch.stack([cx - half, cy - half, cx + half, cy + half], dim=1)


def _apply_offsets(boxes: Tensor, offsets: Tensor) -> Tensor:
    """MTCNN's box regression: each corner moves by its offset times the box's width or height."""
    size = torch.cat([boxes[:, 2:] - boxes[:, :2]] * 2, dim=1)  # (w, h, w, h)
    return boxes + offsets * size


_OUTSIDE = -127.5 / 128  # a black pixel after scaling: what lies outside the image


def _crops(image: Tensor, boxes: Tensor, size: int) -> Tensor:
    """``(K, 3, size, size)`` crops of ``(1, 3, H, W)`` at ``boxes``, black outside the image.

    roi_align averages several bilinear samples per output pixel (an area-like resize); it reads zeros
    outside the image, so the image is shifted to make zero mean black.
    """
    rois = torch.cat([torch.zeros(len(boxes), 1, dtype=boxes.dtype), boxes], dim=1)
    crops = roi_align(
        image - _OUTSIDE, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True
    )
    return crops + _OUTSIDE


class MTCNN(nn.Module):
    """The MTCNN face detector (Zhang et al., 2016): P-Net → R-Net → O-Net on an image pyramid.

    ``forward`` returns the final faces; :meth:`cascade` returns every stage for the page.

    Attributes:
        min_face_size: smallest face searched for, in pixels (sets the largest pyramid scale, 12 / size).
        scale_factor: ratio between pyramid levels.
        thresholds: face probability each stage keeps, (P-Net, R-Net, O-Net).
    """

    def __init__(
        self,
        min_face_size: float = 20.0,
        scale_factor: float = 0.709,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
    ) -> None:
        super().__init__()
        self.pnet = PNet()
        self.rnet = RNet()
        self.onet = ONet()
        self.min_face_size = min_face_size
        self.scale_factor = scale_factor
        self.thresholds = thresholds

    def scales(self, height: int, width: int) -> list[float]:
        """The pyramid: ``12 / min_face_size`` times powers of ``scale_factor`` while the image keeps >= 12 "
        "px."""
        scale = 12.0 / self.min_face_size
        out = []
        while min(height, width) * scale >= 12:
            out.append(scale)
            scale *= self.scale_factor
        return out

    @torch.no_grad()
    def cascade(self, x: Tensor) -> FaceCascade:
        """Runs the three stages on one image.

        Args:
            x: ``(1, 3, H, W)`` scaled as ``(pixel - 127.5) / 128``, RGB.

        Raises:
            ValueError: ``x`` is not one 3-channel image.
        """
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(f"x must be one RGB image (1, 3, H, W), got {tuple(x.shape)}")
        p_thr, r_thr, _ = self.thresholds
        height, width = x.shape[-2:]
        seconds = {}

        started = time.perf_counter()
        scales = self.scales(height, width)
        maps, all_boxes, all_scores = [], [], []
        for scale in scales:
            size = (max(1, math.ceil(height * scale)), max(1, math.ceil(width * scale)))
            probs, offsets = self.pnet(F.interpolate(x, size=size, mode="area"))
            face = probs[0, 1]
            maps.append(face)
            rows, cols = torch.nonzero(face >= p_thr, as_tuple=True)
            if len(rows) == 0:
                continue
            # Window (2j, 2i, 2j + 12, 2i + 12) of the scaled image, back in input pixels, plus its offsets.
            windows = torch.stack([cols * 2, rows * 2, cols * 2 + 12, rows * 2 + 12], dim=1).to(x.dtype)
            boxes = _apply_offsets(windows / scale, offsets[0, :, rows, cols].T)
            scores = face[rows, cols]
            keep = nms(windows, scores, 0.5)  # within a scale: on the windows, as the paper's sliding search
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
        proposals = torch.cat(all_boxes) if all_boxes else x.new_zeros(0, 4)
        proposal_scores = torch.cat(all_scores) if all_scores else x.new_zeros(0)
        keep = nms(proposals, proposal_scores, 0.7)  # across scales
        proposals, proposal_scores = _square(proposals[keep]), proposal_scores[keep]
        seconds["P-Net"] = time.perf_counter() - started

        started = time.perf_counter()
        refined, refined_scores = x.new_zeros(0, 4), x.new_zeros(0)
        if len(proposals):
            probs, offsets = self.rnet(_crops(x, proposals, 24))
            face = probs[:, 1]
            mask = face >= r_thr
            boxes, scores = proposals[mask], face[mask]
            keep = nms(boxes, scores, 0.7)
            refined = _square(_apply_offsets(boxes[keep], offsets[mask][keep]))
            refined_scores = scores[keep]
        seconds["R-Net"] = time.perf_counter() - started

        started = time.perf_counter()
        boxes, scores, landmarks = x.new_zeros(0, 4), x.new_zeros(0), x.new_zeros(0, 5, 2)
        if len(refined):
            probs, offsets, points = self.onet(_crops(x, refined, 48))
            # Landmarks are fractions of the crop: five x, then five y.
            extent = refined[:, 2:] - refined[:, :2]
            landmarks = (
                torch.stack([points[:, :5], points[:, 5:]], dim=2) * extent[:, None] + refined[:, None, :2]
            )
            boxes, scores = _apply_offsets(refined, offsets), probs[:, 1]
        seconds["O-Net"] = time.perf_counter() - started
        return FaceCascade(
            scales=tuple(scales),
            pnet_maps=tuple(maps),
            proposals=proposals,
            proposal_scores=proposal_scores,
            refined=refined,
            refined_scores=refined_scores,
            boxes=boxes,
            scores=scores,
            landmarks=landmarks,
            seconds=seconds,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The faces in one image: ``(boxes (K, 4), scores (K,), landmarks (K, 5, 2))``, best first.

        O-Net's threshold, then NMS at IoU 0.7.
        """
        result = self.cascade(x)
        mask = result.scores >= self.thresholds[2]
        boxes, scores, landmarks = result.boxes[mask], result.scores[mask], result.landmarks[mask]
        keep = nms(boxes, scores, 0.7)
        return boxes[keep], scores[keep], landmarks[keep]


_MTCNN_FILES = ("pnet", "rnet", "onet")


@dataclass(frozen=True)
class MTCNNWeights:
    """MTCNN's three weight files from the ``facenet-pytorch`` weight pack, in cnnviz's weight cache.

    The files are found by name (``python -m cnnviz.weights fetch`` checks their sha256 when it places them).
    """

    label: WeightsLabel = "weight pack"

    def path(self) -> Path:
        return mtcnn_dir()

    def files(self) -> list[Path]:
        return [mtcnn_dir() / f"{name}.pt" for name in _MTCNN_FILES]

    def present(self) -> bool:
        return all(f.is_file() for f in self.files())

    def describe(self) -> str:
        pack = next(p for p in PACKS if any(f.member.endswith("pnet.pt") for f in p.files))
        return f"{pack.requirement}: pnet.pt, rnet.pt, onet.pt"

    def load(self, spec: ModelSpec, progress: Progress) -> nn.Module:
        model = build_untrained(spec)
        if not isinstance(model, MTCNN):
            raise TypeError(f"spec {spec.name!r} does not build an MTCNN")
        for name, file in zip(_MTCNN_FILES, self.files(), strict=True):
            if not file.is_file():
                raise WeightsMissingError(
                    f"The MTCNN weight file {file} is missing; run `python -m cnnviz.weights fetch` to take "
                    "it from the facenet-pytorch weight pack, or choose untrained weights.",
                    key="pack_missing",
                    model=spec.name,
                    detail=str(file),
                )
            try:
                getattr(model, name).load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
            except (RuntimeError, OSError, EOFError, ValueError) as err:
                raise WeightsMissingError(
                    f"The MTCNN weight file {file} cannot be read or does not fit {name} "
                    f"({type(err).__name__}); run `python -m cnnviz.weights fetch` again.",
                    key="unreadable",
                    model=spec.name,
                    detail=f"{file}: {type(err).__name__}",
                ) from err
        return model


MTCNN_SPEC = register(
    ModelSpec(
        name="mtcnn",
        family="MTCNN",
        task="detection",
        in_channels=3,
        input_size=(512, 512),
        source="weight pack",
        build=MTCNN,
        transform=ResizeTransform(None, _MTCNN_MEAN, _MTCNN_STD),
        categories=("face",),
        weight_source=MTCNNWeights(),
        mean=_MTCNN_MEAN,
        std=_MTCNN_STD,
        year=2016,
        tags=("cascade",),
    )
)
