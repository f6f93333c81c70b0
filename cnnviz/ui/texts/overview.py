"""Sentences of the Network-at-a-glance page (English; Korean in the lecture's terms: 층, 특징 맵, 채널)."""

TEXT: dict[str, tuple[str, str]] = {
    "page.overview": ("Network at a glance", "네트워크 한눈에 보기"),
    "page.overview.blurb": (
        "every layer as a strip of channel maps, joined by the real dataflow",
        "모든 층을 채널 맵 띠로, 실제 데이터 흐름으로 이어서",
    ),
    "ov.intro": (
        "One forward pass of the chosen image, every layer in the order it ran: each column shows the "
        "layer's most active channels (its feature maps, shrunk), a grey bar a vector. Lines follow the "
        "real dataflow: an arrow to the next column, an arc for a connection that skips ahead (a residual "
        "sum's second input). Hover a layer to read which layers feed it and which it feeds; click it to "
        "highlight them.",
        "고른 이미지로 한 번 순전파하고, 모든 층을 실행된 순서대로 보여줍니다: 각 열은 그 층에서 "
        "가장 활발한 채널들(줄인 특징 맵)이고, 회색 막대는 벡터입니다. 선은 실제 데이터 흐름입니다: "
        "다음 열로 가는 화살표, 건너뛰는 연결(잔차 합의 두 번째 입력)은 위쪽 호. 층 위에 마우스를 "
        "올리면 어느 층에서 받고 어느 층으로 보내는지 나오고, 클릭하면 강조됩니다.",
    ),
    "ov.detail": ("Detail", "자세히 보기"),
    "ov.detail.summary": ("Summary", "요약"),
    "ov.detail.every": ("Every layer", "모든 층"),
    "ov.running": (
        "Running the model once and recording its dataflow…",
        "모델을 한 번 실행해 데이터 흐름을 기록하는 중…",
    ),
    "ov.summary": (
        "{layers} layers, grouped into {nodes} blocks by module name (depth {level}); each block shows what "
        "it hands on. Choose “Every layer” to see them all.",
        "층 {layers}개를 모듈 이름으로 묶어 블록 {nodes}개로 보여줍니다 (깊이 {level}); 각 블록은 다음으로 "
        "넘기는 출력을 보여줍니다. 모두 보려면 “모든 층”을 고르세요.",
    ),
    "ov.every": ("{layers} layers and {edges} connections.", "층 {layers}개, 연결 {edges}개."),
    "ov.feeds": ("feeds", "보내는 곳"),
    "ov.fed_by": ("fed by", "받는 곳"),
    "ov.highlight": (
        "{name} feeds: {feeds} (red); it is fed by: {fed_by} (blue).",
        "{name}이(가) 보내는 곳: {feeds} (빨강); 받는 곳: {fed_by} (파랑).",
    ),
}
