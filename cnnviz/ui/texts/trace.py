"""Sentences of the cell trace on Feature maps (English; Korean in the lecture's terms: 합성곱, 필터,
수용 영역, 특징 맵)."""

TEXT: dict[str, tuple[str, str]] = {
    "trace.title": ("Trace a cell back", "한 칸을 거슬러 올라가기"),
    "trace.intro": (
        "Click a cell of the channel below (or type its row and column). The view shows the cell's "
        "receptive field on the input image, the trained filter over the previous layer's channels at that "
        "position, and the convolution written out: bias + one sum of window × filter per input channel, "
        "which adds up to exactly the value in the feature map.",
        "아래 채널에서 한 칸을 클릭하세요 (또는 행과 열을 입력하세요). 그 칸의 입력 이미지 위 수용 영역, 그 "
        "위치에서 이전 층의 채널들에 걸친 학습된 필터, 그리고 합성곱을 풀어 쓴 식을 보여줍니다: 편향 + 입력 "
        "채널마다 (윈도우 × 필터)의 합. 이 합은 특징 맵의 값과 정확히 같습니다.",
    ),
    "trace.not_conv": (
        "Tracing a cell back works on convolution layers (Conv2d): pick one in the layer list to see its "
        "filter, its window and its sum written out.",
        "칸 거슬러 올라가기는 합성곱 층(Conv2d)에서 동작합니다: 층 목록에서 합성곱 층을 고르면 필터, 윈도우, "
        "풀어 쓴 합을 볼 수 있습니다.",
    ),
    "trace.pick_title": (
        "Channel {k} of {layer}: click a cell to trace it",
        "{layer}의 채널 {k}: 칸을 클릭해 거슬러 올라가기",
    ),
    "trace.pick_big": (
        "This map is too large to click cell by cell; type the row and column instead.",
        "이 맵은 칸마다 클릭하기에는 너무 큽니다; 행과 열을 입력하세요.",
    ),
    "trace.row": ("Row", "행"),
    "trace.col": ("Column", "열"),
    "trace.running": (
        "Tracing the cell back through the network…",
        "네트워크를 따라 칸을 거슬러 올라가는 중…",
    ),
    "trace.field": (
        "Receptive field of cell ({i}, {j}): input rows {top}–{bottom}, columns {left}–{right} "
        "({h} × {w} pixels of {H} × {W}).",
        "칸 ({i}, {j})의 수용 영역: 입력의 행 {top}–{bottom}, 열 {left}–{right} "
        "({H} × {W} 중 {h} × {w} 픽셀).",
    ),
    "trace.field_none": (
        "This cell does not depend on any input pixel (a constant).",
        "이 칸은 어떤 입력 픽셀에도 의존하지 않습니다 (상수).",
    ),
    "trace.support": (
        "Red: the receptive field (every pixel the value is computed from). Yellow: the pixels that move the "
        "value for this image (non-zero gradient); smaller where a ReLU is off or max pooling picked another "
        "pixel.",
        "빨강: 수용 영역 (값을 계산하는 데 쓰이는 모든 픽셀). 노랑: 이 이미지에서 값을 실제로 움직이는 "
        "픽셀 (기울기가 0이 아님); ReLU가 꺼져 있거나 맥스 풀링이 다른 픽셀을 고른 곳에서는 더 작습니다.",
    ),
    "trace.sum_title": ("The convolution written out", "합성곱을 풀어 쓰기"),
    "trace.sum": (
        "value({k}, {i}, {j}) = bias + Σ over {n} input channel(s) of (window × filter)",
        "값({k}, {i}, {j}) = 편향 + 입력 채널 {n}개에 대한 (윈도우 × 필터)의 합",
    ),
    "trace.rest": ("{n} smaller terms", "작은 항 {n}개"),
    "trace.total": (
        "Sum: {total} · the feature map shows {value} (they agree within {tol:.1g}, the bound on the "
        "network's own rounding).",
        "합: {total} · 특징 맵의 값: {value} (네트워크 자체의 반올림 한계 {tol:.1g} 안에서 같음).",
    ),
    "trace.groups": (
        "A grouped convolution: this output channel's filter reads only input channels {first}–{last}.",
        "그룹 합성곱: 이 출력 채널의 필터는 입력 채널 {first}–{last}만 읽습니다.",
    ),
    "trace.groups_one": (
        "A depthwise convolution: this output channel's filter reads input channel {first} only.",
        "깊이별(depthwise) 합성곱: 이 출력 채널의 필터는 입력 채널 {first}만 읽습니다.",
    ),
    "trace.col.channel": ("input channel", "입력 채널"),
    "trace.col.partial": ("Σ window × filter", "Σ 윈도우 × 필터"),
    "trace.in_channel": (
        "Input channel to look at (largest term first)",
        "살펴볼 입력 채널 (가장 큰 항부터)",
    ),
    "trace.window": ("Window, input channel {c}", "윈도우, 입력 채널 {c}"),
    "trace.kernel": ("Filter weights, channel {c}", "필터 가중치, 채널 {c}"),
    "trace.products": ("Window × filter = {partial}", "윈도우 × 필터 = {partial}"),
    "trace.matrices": (
        "The window holds the values of {layer}'s input under the filter (shaded cells are padding); "
        "window × filter, cell by cell, adds up to this input channel's term of the sum.",
        "윈도우는 필터 아래에 놓인 {layer} 입력의 값입니다 (음영 칸은 패딩); 윈도우 × 필터를 칸마다 "
        "곱해 모두 더하면 이 입력 채널의 항이 됩니다.",
    ),
}
