"""Sentences of the Segmentation page (English, Korean in the lecture's terms: 이미지 분할, 마스크, …)."""

TEXT: dict[str, tuple[str, str]] = {
    "seg.intro": (
        "Image segmentation classifies every pixel of the image. It must know exactly where each object is, "
        "so it is harder than object detection. Its output is called a mask, and the mask is as large as the "
        "input image. Semantic segmentation only says which class each pixel belongs to; instance "
        "segmentation also tells apart the objects of one class.",
        "이미지 분할(Image Segmentation)은 이미지를 구성하고 있는 모든 픽셀을 대상으로 클래스를 분류하는 "
        "작업입니다. 정확한 위치를 알아야 하기 때문에 객체 탐지보다 복잡합니다. 출력을 마스크라고 하며, "
        "입력 이미지 크기 = 출력 이미지 크기입니다. Semantic segmentation은 물체가 어느 클래스에 속하는지만 "
        "분류하고, instance segmentation은 같은 클래스 안에서도 물체를 하나하나 나눕니다.",
    ),
    "seg.untrained_note": (
        "These weights are untrained: the masks are random; only the architecture and the sizes are real.",
        "학습되지 않은 가중치입니다: 마스크는 무작위이고, 구조와 크기만 실제입니다.",
    ),
    "seg.card": (
        "Model card: mean IoU {miou:.3f} on {count} held-out shapes scenes (never trained on).",
        "모델 카드: 학습에 쓰지 않은 도형 장면 {count}개에서 mean IoU {miou:.3f}.",
    ),
    "seg.card_instance": (
        "Instances: {precision:.1%} of the masks found are right and {recall:.1%} of the objects are found "
        "(IoU > 0.5), panoptic quality {pq:.3f}.",
        "인스턴스: 찾은 마스크의 {precision:.1%}가 맞고 물체의 {recall:.1%}를 찾음 (IoU > 0.5), "
        "panoptic quality {pq:.3f}.",
    ),
    # --- image -------------------------------------------------------------------------------------------
    "seg.source": ("Image", "이미지"),
    "seg.source.scene": ("Shapes scene (what FCN-mini learned from)", "도형 장면 (FCN-mini가 학습한 데이터)"),
    "seg.source.sidebar": ("The sidebar's image", "사이드바의 이미지"),
    "seg.seed": (
        "Scene seed (held-out scenes, never trained on, start at 1000000)",
        "장면 시드 (학습에 쓰지 않은 평가용 장면은 1000000부터)",
    ),
    "seg.photo_hint": (
        "The bundled FCN-minis only know shapes scenes; on a photo their masks mean little.",
        "포함된 FCN-mini는 도형 장면만 학습했기 때문에 사진에서는 마스크가 큰 의미가 없습니다.",
    ),
    # --- masks -------------------------------------------------------------------------------------------
    "seg.masks": ("Semantic vs instance segmentation", "Semantic segmentation과 Instance segmentation"),
    "seg.alpha": ("Mask opacity", "마스크 불투명도"),
    "seg.threshold": ("Lowest instance score", "인스턴스 최소 점수"),
    "seg.threshold_help": (
        "FCN-mini-instance: how high a peak of the centre heatmap must be to count as an object. "
        "Mask R-CNN: the lowest detection score kept.",
        "FCN-mini-instance: 중심 heatmap의 봉우리가 이 값 이상이어야 물체로 셉니다. "
        "Mask R-CNN: 남길 탐지 점수의 최솟값.",
    ),
    # Column headings under "Semantic vs instance segmentation": short, so each fits one line in a narrow
    # column and the pictures under them start level (a wrapped heading pushed its picture down).
    "seg.semantic": ("Semantic", "의미론적 분할"),
    "seg.semantic_caption": (
        "{model}: every pixel gets a class; objects of one class share one colour.",
        "{model}: 모든 픽셀이 클래스를 받고, 같은 클래스의 물체는 같은 색입니다.",
    ),
    "seg.semantic_from_instances": (
        "{model} has no per-pixel class scores: its instance masks are painted with their class colour.",
        "{model} 모델은 픽셀별 클래스 점수가 없어 인스턴스 마스크를 클래스 색으로 칠했습니다.",
    ),
    "seg.instance": ("Instance", "인스턴스 분할"),
    "seg.instance_caption": (
        "{model}: each object gets its own mask and colour, even two of the same class.",
        "{model}: 물체마다 각자의 마스크와 색, 같은 클래스의 물체 두 개도 서로 다른 색입니다.",
    ),
    "seg.instance_missing": (
        "Instance masks come from {name}, which is not available: {why}",
        "인스턴스 마스크를 만드는 {name} 모델을 쓸 수 없습니다: {why}",
    ),
    "seg.partner_run": (
        "Run {name} too, for instance masks (untrained: it takes about as long again)",
        "인스턴스 마스크를 위해 {name} 모델도 실행 (학습 안 됨: 시간이 그만큼 더 걸립니다)",
    ),
    "seg.partner_deferred": (
        "Instance masks come from {name}, which has no trained weights here: switch on “Run {name} too” "
        "above to see its untrained masks.",
        "인스턴스 마스크를 만드는 {name} 모델의 학습된 가중치가 없습니다: 위의 “{name} 모델도 실행”을 "
        "켜면 학습 안 된 마스크를 볼 수 있습니다.",
    ),
    "seg.no_instances": ("No object above the threshold.", "임계값을 넘는 물체가 없습니다."),
    "seg.truth": ("Ground truth", "정답"),
    "seg.truth_caption": (
        "The scene's own masks: semantic (top) and instance (bottom).",
        "장면의 정답 마스크: semantic (위), instance (아래).",
    ),
    "seg.legend": ("Legend", "범례"),
    "seg.object": ("{name} #{n} ({score:.2f})", "{name} #{n} ({score:.2f})"),
    "seg.shares": ("Share of the pixels per class", "클래스별 픽셀 비율"),
    "seg.shares_help": (
        "How much of the mask each class covers; the bar colours are the mask colours.",
        "각 클래스가 마스크에서 차지하는 비율; 막대 색은 마스크 색과 같습니다.",
    ),
    "seg.mask_size": (
        "Input {ih}×{iw} → mask {mh}×{mw}: the mask is as large as the input.",
        "입력 {ih}×{iw} → 마스크 {mh}×{mw}: 입력 이미지 크기 = 출력 이미지 크기.",
    ),
    # --- sizes -------------------------------------------------------------------------------------------
    "seg.sizes": ("Down, then up again", "줄였다가 다시 키우기"),
    "seg.sizes_intro": (
        "A normal CNN makes the image smaller at every layer, so it cannot be used for segmentation as it "
        "is. A segmenter reverses convolution and pooling, the operations that shrink the image, to grow it "
        "back. The sizes below are recorded from a real forward pass of {model} on this image.",
        "일반적인 CNN은 층을 거칠 때마다 이미지의 크기가 줄어들기 때문에 그대로는 분할에 사용할 수 "
        "없습니다. 분할 모델은 이미지 크기를 줄이는 연산인 합성곱과 풀링을 거꾸로 적용해 다시 "
        "이미지를 키웁니다. 아래 크기는 이 이미지로 {model} 모델을 실제로 실행해 기록한 값입니다.",
    ),
    "seg.sizes_title": ("Spatial size (H) of each stage's output", "각 단계 출력의 공간 크기 (H)"),
    "seg.sizes_y": ("height H (pixels)", "높이 H (픽셀)"),
    "seg.phase.input": ("input", "입력"),
    "seg.phase.down": ("smaller (convolution, pooling)", "작아짐 (합성곱, 풀링)"),
    "seg.phase.same": ("same size", "같은 크기"),
    "seg.phase.up": (
        "larger (transposed convolution, upsampling)",
        "커짐 (전치 합성곱, 업샘플링)",
    ),
    "seg.smallest": (
        "The smallest map is {name}: {h}×{w} with {c} channels; the mask comes back at {mh}×{mw}.",
        "가장 작은 맵은 {name}: {h}×{w}, 채널 {c}개; mask는 다시 {mh}×{mw} 크기로 돌아옵니다.",
    ),
    "seg.per_box": (
        "Hatched stages run on each detected box (RoI), not on the whole image.",
        "빗금 친 단계는 이미지 전체가 아니라 탐지된 박스(RoI)마다 실행됩니다.",
    ),
    "seg.stages": ("Every stage", "모든 단계"),
    "seg.col.stage": ("stage", "단계"),
    "seg.col.kind": ("module", "모듈"),
    "seg.col.channels": ("C", "C"),
    "seg.col.height": ("H", "H"),
    "seg.col.width": ("W", "W"),
    "seg.col.phase": ("size", "크기"),
    # --- transposed convolution --------------------------------------------------------------------------
    "seg.tconv": ("Transposed convolution: growing a map", "전치 합성곱: 맵 키우기"),
    "seg.tconv_intro": (
        "A convolution slides a filter over the input and makes it smaller. A transposed convolution goes "
        "the other way: every input value stamps a copy of the kernel, scaled by that value, into the "
        "output, S pixels apart; where stamps overlap they add up; then P rows and columns are cut from "
        "each side.",
        "합성곱은 필터를 입력 위로 움직이며 크기를 줄입니다. 전치 합성곱은 반대로, 입력 값 "
        "하나하나가 그 값만큼 곱한 필터를 출력에 S 픽셀 간격으로 찍고, 겹치는 곳은 더한 뒤, 양쪽에서 P줄씩 "
        "잘라냅니다.",
    ),
    "seg.tconv_input": ("Input size I", "입력 크기 I"),
    "seg.tconv_kernel": ("Kernel size F", "필터 크기 F"),
    "seg.tconv_stride": ("Stride S", "스트라이드 S"),
    "seg.tconv_padding": ("Padding P", "패딩 P"),
    "seg.tconv_preset": ("Kernel values", "필터 값"),
    "seg.tconv_preset.ones": ("all ones (overlaps show as sums)", "모두 1 (겹침이 합으로 보임)"),
    "seg.tconv_preset.counting": ("1, 2, 3, … (stamps readable)", "1, 2, 3, … (찍힌 위치가 보임)"),
    "seg.tconv_check": (
        "torch.nn.functional.conv_transpose2d gives a {h}×{w} output with the same values: {ok}.",
        "torch.nn.functional.conv_transpose2d의 출력도 {h}×{w}이고 값이 같음: {ok}.",
    ),
    "seg.tconv_in": ("Input", "입력"),
    "seg.tconv_k": ("Kernel", "필터"),
    "seg.tconv_out": ("Output by hand (sum of the stamps)", "직접 계산한 출력 (찍은 값의 합)"),
    "seg.tconv_torch": ("F.conv_transpose2d", "F.conv_transpose2d"),
    "seg.tconv_cell": ("Show the stamp of input cell", "입력 칸의 도장 보기"),
    "seg.tconv_cell_item": ("row {r}, column {c} (value {v:g})", "{r}행 {c}열 (값 {v:g})"),
    "seg.tconv_stamp": (
        "Stamp of input [{r}, {c}] = {v:g} × kernel, placed at ({y}, {x}) before cropping",
        "입력 [{r}, {c}] = {v:g} × 필터, 자르기 전 ({y}, {x}) 위치에 찍힘",
    ),
    "seg.yes": ("yes", "예"),
    "seg.no": ("no", "아니오"),
}
