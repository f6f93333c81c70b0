# ruff: noqa: E501
# A translation table: sentences read better unwrapped, as in cnnviz/ui/text.py.
"""English/Korean sentences of the Generation page (GAN and style transfer); keys start with "gen."."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    "gen.intro": (
        "Image generation makes new images from what a model has learned. A **GAN** trains a generator and a "
        "discriminator against each other until the generator's fakes look real; **style transfer** keeps the "
        "content of one image and takes the style of another.",
        "이미지 생성은 모델이 학습한 것을 바탕으로 새로운 이미지를 만드는 과제입니다. **GAN**은 Generator(생성자)와 "
        "Discriminator(판별자)를 서로 적대적으로 학습시켜 진짜 같은 가짜 이미지를 생성하고, **Style Transfer**"
        "(스타일 변환)는 content image의 내용에 style image의 특징을 적용합니다.",
    ),
    "gen.tab.gan": ("GAN", "GAN"),
    "gen.tab.style": ("Style transfer", "스타일 변환 (Style Transfer)"),
    # --- GAN ------------------------------------------------------------------------------------------
    "gen.gan.title": ("GAN: generator against discriminator", "GAN: 생성자와 판별자의 대결"),
    "gen.gan.explain": (
        "The **generator** turns a random latent vector z (32 numbers) into a 32×32 digit with transposed "
        "convolutions. The **discriminator** is a CNN that scores an image: the probability that it is a real "
        "digit. Training alternates: the discriminator learns to tell real from fake, then the generator learns "
        "to fool it.",
        "**Generator**(생성자)는 무작위 잠재 벡터 z(숫자 32개)를 전치 합성곱(transposed convolution)으로 "
        "32×32 숫자 이미지로 만듭니다. **Discriminator**(판별자)는 이미지가 진짜 숫자일 확률을 내는 CNN입니다. "
        "판별자가 진짜와 가짜를 구별하도록 학습하고, 생성자는 판별자를 속이도록 학습하는 과정을 번갈아 반복합니다.",
    ),
    "gen.gan.card": (
        "Trained {epochs} epochs on scikit-learn's digits. Fréchet distance to held-out digits in LeNet-5's "
        "features: {frechet:.2f} (untrained generator {untrained:.1f}, real training digits {real:.2f}; lower "
        "is more real).",
        "scikit-learn 손글씨 숫자로 {epochs} epoch 학습. LeNet-5 특징 공간에서 학습에 쓰지 않은 숫자와의 "
        "Fréchet 거리: {frechet:.2f} (학습 전 생성자 {untrained:.1f}, 실제 학습 숫자 {real:.2f}; 낮을수록 진짜에 "
        "가까움).",
    ),
    "gen.gan.card_missing": (
        "No model card: the bundled GAN was not trained here (`python -m cnnviz.train dcgan`).",
        "모델 카드가 없습니다: 포함된 GAN을 이 컴퓨터에서 학습하지 않았습니다 (`python -m cnnviz.train dcgan`).",
    ),
    "gen.gan.samples": ("Generated digits", "생성된 숫자"),
    "gen.gan.seed": ("Seed of the latent vectors z", "잠재 벡터 z의 시드"),
    "gen.gan.seed_help": (
        "The same seed always draws the same latent vectors, so it always gives the same digits.",
        "같은 시드는 항상 같은 잠재 벡터를 뽑으므로 항상 같은 숫자가 나옵니다.",
    ),
    "gen.gan.count": ("How many", "개수"),
    "gen.gan.samples_caption": (
        "{n} digits from seed {seed}; the discriminator finds them real with probability {mean:.2f} on average.",
        "시드 {seed}에서 생성한 숫자 {n}개; 판별자가 진짜라고 볼 확률 평균 {mean:.2f}.",
    ),
    "gen.gan.walk": ("A walk through latent space", "잠재 공간(latent space) 속 이동"),
    "gen.gan.walk_help": (
        "Nearby latent vectors give similar digits, so moving z step by step from one point to another "
        "morphs one digit into another.",
        "가까운 잠재 벡터는 비슷한 숫자를 만들기 때문에, z를 한 점에서 다른 점으로 조금씩 옮기면 숫자가 "
        "서서히 다른 숫자로 바뀝니다.",
    ),
    "gen.gan.walk_a": ("Start (seed)", "시작점 (시드)"),
    "gen.gan.walk_b": ("End (seed)", "끝점 (시드)"),
    "gen.gan.walk_steps": ("Images on the way", "중간 이미지 수"),
    "gen.gan.walk_mode": ("Path", "경로"),
    "gen.gan.walk_mode.spherical": ("spherical (slerp)", "구면 보간 (slerp)"),
    "gen.gan.walk_mode.linear": ("straight line", "직선 보간"),
    "gen.gan.walk_mode_help": (
        "Random vectors lie near a sphere; the straight line between two of them cuts through the middle, "
        "where z is shorter than anything the generator saw in training.",
        "무작위 벡터는 구 근처에 있어서, 두 벡터를 잇는 직선은 가운데에서 학습 때 본 적 없는 짧은 z를 지나갑니다.",
    ),
    "gen.gan.walk_chart": ("Along the walk", "경로를 따라"),
    "gen.gan.walk_score": ("discriminator: P(real)", "판별자: 진짜일 확률"),
    "gen.gan.walk_norm": ("length |z| / √dim", "길이 |z| / √차원"),
    "gen.gan.walk_x": ("position on the path", "경로 위치"),
    "gen.gan.disc": ("What the discriminator says", "판별자의 판단"),
    "gen.gan.disc_help": (
        "Probability of 'real' for held-out real digits (never seen in training) and for generated digits. "
        "In a well-balanced GAN the two overlap: the discriminator can hardly tell them apart.",
        "학습에 쓰지 않은 진짜 숫자와 생성된 숫자가 진짜일 확률입니다. 균형 잡힌 GAN에서는 두 분포가 겹칩니다: "
        "판별자가 거의 구별하지 못합니다.",
    ),
    "gen.gan.disc_chart": ("Discriminator score per image", "이미지별 판별자 점수"),
    "gen.gan.disc_x": ("P(real)", "진짜일 확률"),
    "gen.gan.real": ("real (held-out)", "진짜 (학습에 안 쓴)"),
    "gen.gan.fake": ("generated", "생성됨"),
    "gen.gan.real_grid": ("Real digits, mean score {mean:.2f}", "진짜 숫자, 평균 점수 {mean:.2f}"),
    "gen.gan.fake_grid": ("Generated digits, mean score {mean:.2f}", "생성된 숫자, 평균 점수 {mean:.2f}"),
    "gen.gan.picture": (
        "Your image (sidebar) as the discriminator sees it: P(real) = {score:.2f}",
        "사이드바의 이미지를 판별자가 보는 모습: 진짜일 확률 = {score:.2f}",
    ),
    "gen.gan.snapshots": ("Watch the generator learn", "생성자가 배우는 과정"),
    "gen.gan.snapshots_help": (
        "The same 16 latent vectors, drawn by the generator after each of these epochs of the bundled training.",
        "같은 잠재 벡터 16개를 학습 중 각 epoch 뒤의 생성자가 그린 이미지입니다.",
    ),
    "gen.gan.snap_epoch": ("After epoch", "epoch 뒤"),
    "gen.gan.snap_caption": ("Epoch {epoch}", "Epoch {epoch}"),
    "gen.gan.snap_missing": (
        "No training snapshots: the bundled GAN was not trained here (`python -m cnnviz.train dcgan`).",
        "학습 스냅샷이 없습니다: 포함된 GAN을 이 컴퓨터에서 학습하지 않았습니다 (`python -m cnnviz.train dcgan`).",
    ),
    "gen.gan.losses": ("Losses per epoch", "epoch별 손실"),
    "gen.gan.scores": ("Discriminator's mean score per epoch", "epoch별 판별자 평균 점수"),
    "gen.gan.d_loss": ("discriminator loss", "판별자 손실"),
    "gen.gan.g_loss": ("generator loss", "생성자 손실"),
    "gen.gan.d_real": ("P(real) of real digits", "진짜 숫자의 진짜일 확률"),
    "gen.gan.d_fake": ("P(real) of generated digits", "생성된 숫자의 진짜일 확률"),
    "gen.gan.epoch": ("epoch", "epoch"),
    "gen.gan.step": ("step", "step"),
    "gen.gan.layers": ("The generator's layers: from 1×1 to 32×32", "생성자의 층: 1×1에서 32×32로"),
    "gen.gan.layers_help": (
        "Shapes from a real forward pass of one latent vector: each stride-2 transposed convolution doubles "
        "the height and width, the reverse of a stride-2 convolution.",
        "잠재 벡터 하나로 실제로 순전파한 결과의 크기입니다: 스트라이드 2 전치 합성곱마다 높이와 너비가 두 배가 "
        "됩니다 (스트라이드 2 합성곱의 반대).",
    ),
    "gen.gan.col.layer": ("layer", "층"),
    "gen.gan.col.kind": ("type", "종류"),
    "gen.gan.col.kernel": ("filter", "필터"),
    "gen.gan.col.stride": ("stride", "스트라이드"),
    "gen.gan.col.padding": ("padding", "패딩"),
    "gen.gan.col.shape": ("output (C × H × W)", "출력 (C × H × W)"),
    "gen.gan.col.params": ("parameters", "파라미터 수"),
    "gen.gan.layer": ("Feature maps of layer", "특징 맵을 볼 층"),
    "gen.gan.layer_caption": (
        "{layer}: {c} channels of {h}×{w} (seed {seed})",
        "{layer}: {h}×{w} 채널 {c}개 (시드 {seed})",
    ),
    "gen.gan.live": ("Train a GAN live", "GAN 직접 학습해 보기"),
    "gen.gan.live_help": (
        "Trains a copy for a few steps on the digits (the bundled model is not touched), with a larger learning rate than the bundled training (5e-4 instead of 2e-4), so that from random weights digit-like shapes appear within 100–200 steps. Watch the discriminator win first, then the generator catch up.",
        "복사본을 숫자 데이터로 몇 step 학습합니다 (포함된 모델은 바뀌지 않음). 포함된 모델의 학습보다 큰 학습률(2e-4 대신 5e-4)을 써서, 무작위 가중치에서 시작해도 100–200 step 안에 숫자 같은 모양이 나타납니다. 처음에는 판별자가 이기다가 생성자가 따라잡는 모습을 보세요.",
    ),
    "gen.gan.live_losses": ("Losses per step", "step별 손실"),
    "gen.gan.live_scores": ("Discriminator's mean score per step", "step별 판별자 평균 점수"),
    "gen.gan.live_steps": ("Steps", "Step 수"),
    "gen.gan.live_start": ("Start from", "시작 가중치"),
    "gen.gan.live_start.scratch": ("random weights", "무작위 가중치"),
    "gen.gan.live_start.bundled": ("the bundled GAN", "포함된 GAN"),
    "gen.gan.live_run": ("Train", "학습 시작"),
    "gen.gan.live_progress": (
        "Step {step}/{steps}: D loss {d:.2f}, G loss {g:.2f}",
        "Step {step}/{steps}: 판별자 손실 {d:.2f}, 생성자 손실 {g:.2f}",
    ),
    "gen.gan.live_done": (
        "Steps trained: {step}, in {seconds:.1f} s.",
        "{step} step을 {seconds:.1f}초 동안 학습했습니다.",
    ),
    "gen.gan.live_stopped": (
        "Stopped after {step} of {steps} steps ({seconds:.1f} s).",
        "{steps} step 중 {step} step 뒤 멈췄습니다 ({seconds:.1f}초).",
    ),
    "gen.gan.live_images": ("The copy's digits after step {step}", "{step} step 뒤 복사본의 숫자"),
    # --- style transfer -------------------------------------------------------------------------------
    "gen.style.title": ("Style transfer (Gatys et al.)", "스타일 변환 (Gatys et al.)"),
    "gen.style.explain": (
        "An image is optimised so that a deep layer's feature map matches the **content image** (what is "
        "where) and the **Gram matrices** of several layers, the correlations between channels over all "
        "positions, match the **style image** (which textures and colours). Both differences shrink together.",
        "출력 이미지를 최적화해서, 깊은 층의 특징 맵은 **content image**(무엇이 어디에 있는지)와 같아지고 여러 "
        "층의 **Gram 행렬**(모든 위치에 걸친 채널 간 상관관계)은 **style image**(질감과 색)와 같아지게 합니다. "
        "Content image와 output의 차이, Style image와 output의 차이를 모두 줄이는 것이 목표입니다.",
    ),
    "gen.style.backbone": (
        "Backbone: {title} ({weights}).",
        "백본: {title} ({weights}).",
    ),
    "gen.style.no_vgg": (
        "VGG-16/19 pretrained weights are not on this machine, so the weight pack's ImageNet MobileNetV2 "
        "is used (Gatys et al. used VGG-19).",
        "이 컴퓨터에 VGG-16/19 사전학습 가중치가 없어서 가중치 팩의 ImageNet MobileNetV2를 사용합니다 "
        "(Gatys et al.은 VGG-19 사용).",
    ),
    "gen.style.untrained": (
        "Use the untrained backbone (the result shows little style)",
        "학습되지 않은 백본 사용 (스타일이 거의 나타나지 않음)",
    ),
    "gen.style.content": ("Content image (from the sidebar)", "Content image (사이드바 이미지)"),
    "gen.style.style": ("Style image", "Style image"),
    "gen.style.style_upload": ("…or upload a style image", "…또는 style image 올리기"),
    "gen.style.output": ("Output", "출력"),
    "gen.style.weight": ("Style weight", "스타일 가중치"),
    "gen.style.weight_help": (
        "How much the style's Gram matrices count against the content (weight 1). Each difference is taken "
        "relative to its target, so 10 means the style counts ten times as much.",
        "Content(가중치 1)에 비해 스타일의 Gram 행렬을 얼마나 중요하게 볼지. 각 차이는 목표 크기에 대한 "
        "비율이므로 10이면 스타일을 10배 중요하게 봅니다.",
    ),
    "gen.style.content_layer": ("Content layer (one deep layer)", "Content 층 (깊은 층 하나)"),
    "gen.style.style_layers": ("Style layers (Gram matrices)", "Style 층 (Gram 행렬)"),
    "gen.style.need_layers": ("Choose at least one style layer.", "Style 층을 하나 이상 고르세요."),
    "gen.style.steps": ("Steps", "Step 수"),
    "gen.style.size": ("Size (longer side, pixels)", "크기 (긴 변, 픽셀)"),
    "gen.style.size_help": (
        "Time grows with the number of pixels: 256 pixels and 60 steps take roughly 15–30 s on one CPU core.",
        "시간은 픽셀 수에 비례해 늘어납니다: 256 픽셀, 60 step이 CPU 코어 하나에서 약 15–30초 걸립니다.",
    ),
    "gen.style.run": ("Run style transfer", "스타일 변환 실행"),
    "gen.style.stop": ("Stop", "멈춤"),
    "gen.style.progress": (
        "Step {step}/{steps}: content {content:.3f}, style {style:.4f}",
        "Step {step}/{steps}: content 손실 {content:.3f}, style 손실 {style:.4f}",
    ),
    "gen.style.done": (
        "Steps: {steps}, at {w}×{h} pixels, in {seconds:.1f} s, with {backbone}.",
        "{backbone} 사용, {w}×{h} 픽셀에서 {steps} step, {seconds:.1f}초.",
    ),
    "gen.style.stopped": (
        "Stopped after {step} of {steps} steps ({seconds:.1f} s).",
        "{steps} step 중 {step} step 뒤 멈췄습니다 ({seconds:.1f}초).",
    ),
    "gen.style.none": (
        "Choose the images and settings, then run: the output appears here step by step.",
        "이미지와 설정을 고른 뒤 실행하세요: 출력이 단계마다 여기에 나타납니다.",
    ),
    "gen.style.losses": ("Losses while optimising", "최적화 중 손실"),
    "gen.style.loss.content": ("content", "content"),
    "gen.style.loss.style": ("style × weight", "style × 가중치"),
    "gen.style.loss.tv": ("smoothness (TV) × weight", "매끄러움 (TV) × 가중치"),
}
