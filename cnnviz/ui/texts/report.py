# ruff: noqa: E501
# A translation table: sentences read better unwrapped, as in cnnviz/ui/text.py.
"""Sentences of the reports the command line writes (`python -m cnnviz explain ...`)."""

TEXT: dict[str, tuple[str, str]] = {
    "report.explain.title": ("cnnviz report: {model}", "cnnviz 보고서: {model}"),
    "report.explain.intro": (
        "Model {model} ({family}, weights: {weights}) on the image {image}. Input tensor {shape}.",
        "모델 {model} ({family}, 가중치: {weights}), 이미지 {image}. 입력 텐서 {shape}.",
    ),
    "report.input": ("The input, as the model sees it", "모델이 보는 입력"),
    "report.prediction": ("Prediction (top {k})", "예측 (상위 {k}개)"),
    "report.col.class": ("class", "클래스"),
    "report.col.index": ("index", "번호"),
    "report.col.probability": ("probability", "확률"),
    "report.gradcam": ("Grad-CAM: where the model looks", "Grad-CAM: 모델이 보는 곳"),
    "report.gradcam.caption": (
        "Grad-CAM of class {name} ({index}) at layer {layer}, probability {p:.3f}.",
        "클래스 {name} ({index})의 Grad-CAM, 층 {layer}, 확률 {p:.3f}.",
    ),
    "report.gradcam.empty": (
        "No place in the image raises the score of {name}: its Grad-CAM is empty.",
        "이미지의 어느 곳도 {name}의 점수를 높이지 않아 Grad-CAM이 비어 있습니다.",
    ),
    "report.feature_maps": ("Feature maps", "특징 맵"),
    "report.feature_maps.caption": (
        "{layer}: {c} channels of {h}×{w}, most active first (up to 64; each channel scaled on its own).",
        "{layer}: {h}×{w} 크기의 채널 {c}개, 가장 활발한 채널부터 (최대 64개, 채널마다 따로 정규화).",
    ),
    "report.summary": ("Layers", "층"),
    "report.col.layer": ("layer", "층"),
    "report.col.kind": ("kind", "종류"),
    "report.col.output_shape": ("output shape", "출력 크기"),
    "report.col.params": ("parameters", "파라미터 수"),
    "report.col.macs": ("MACs", "곱셈-누적 연산(MACs)"),
    "report.col.receptive_field": ("receptive field", "수용 영역"),
    "report.top.title": (
        "Top images per channel: {layer} of {model}",
        "채널별 상위 이미지: {model}의 {layer}",
    ),
    "report.top.intro": (
        "{images} images; for each of the {c} channels of {layer}, the {k} images on which the channel's maximum is highest, best first. Each crop is the receptive field of the maximum's position, with its score.",
        "이미지 {images}장. {layer}의 채널 {c}개마다 채널의 최댓값이 가장 큰 이미지 {k}장을 큰 순서로 보여 줍니다. 각 조각은 최댓값 위치의 수용 영역이며, 아래 숫자가 그 점수입니다.",
    ),
    "report.top.channel": ("Channel {c} (best: {best})", "채널 {c} (1위: {best})"),
    "report.health.title": ("Layer health of {model}", "{model}의 층 상태"),
    "report.health.intro": (
        "{images} images through {layers} layers with a channel axis.",
        "이미지 {images}장, 채널 축이 있는 층 {layers}개.",
    ),
    "report.health.worst": ("The layers with problems, worst first", "문제가 있는 층 (심한 순서)"),
    "report.health.none": (
        "No layer has dead, saturated or shifted channels.",
        "죽은 채널, 포화된 채널, 통계가 어긋난 층이 없습니다.",
    ),
    "report.health.col.layer": ("layer", "층"),
    "report.health.col.problems": ("problems", "문제"),
    "report.health.col.dead": ("dead channels", "죽은 채널"),
    "report.health.col.channels": ("channels", "채널"),
    "report.health.histograms": ("Activation histograms", "활성값 히스토그램"),
    "report.health.hist": (
        "{layer} ({kind}): {dead} of {c} channels dead",
        "{layer} ({kind}): 채널 {c}개 중 {dead}개가 죽음",
    ),
    "report.totals": (
        "{params:,} parameters, {macs:,} multiply-accumulates for one image.",
        "파라미터 {params:,}개, 이미지 한 장에 곱셈-누적 연산 {macs:,}번.",
    ),
}
