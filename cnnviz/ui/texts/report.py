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
    "report.totals": (
        "{params:,} parameters, {macs:,} multiply-accumulates for one image.",
        "파라미터 {params:,}개, 이미지 한 장에 곱셈-누적 연산 {macs:,}번.",
    ),
}
