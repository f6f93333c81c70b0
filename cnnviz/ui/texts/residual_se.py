# ruff: noqa: E501
# A translation table: sentences read better unwrapped, as in cnnviz/ui/text.py.
"""Sentences of the Residual gradients and SE attention pages (English, Korean in the lecture's terms:
잔차(residual), 기울기 소실, 역전파, 미분값, skip connection, SE block, GAP, Feature Map, 채널, 가중치, …)."""

TEXT: dict[str, tuple[str, str]] = {
    # --- Residual gradients ---------------------------------------------------------------------------
    "res.intro": (
        "A residual block passes its input x on past its convolutions and adds it to their output: "
        "H(x) = F(x) + x. In backpropagation the derivative is ∂H/∂x = F'(x) + 1, so even where F'(x) is small "
        "the skip's “+1” carries the gradient back, which keeps deep networks from losing it (vanishing "
        "gradients). Below, every residual block of the chosen model on the chosen image: how large the "
        "gradient of L is at its input and output, and how much of it arrives through the skip and through the "
        "residual branch F.",
        "ResNet의 잔차 블록(residual block)은 입력 x를 합성곱 층들 뒤로 넘겨 그 출력에 그대로 더합니다: "
        "H(x) = F(x) + x. 역전파 시 미분값은 ∂H/∂x = F'(x) + 1이므로 F'(x)가 작아도 skip connection의 “+1”이 "
        "기울기를 그대로 전달해 기울기 소실 문제를 예방합니다. 아래는 고른 모델의 모든 Residual block에서, 고른 "
        "이미지에 대한 L의 기울기가 블록의 입력과 출력에서 얼마나 큰지, 그리고 그중 얼마가 skip 경로와 잔차 "
        "경로(branch) F를 통해 오는지 보여줍니다.",
    ),
    "res.objective": ("L, the quantity differentiated", "L (미분하는 값)"),
    "res.objective.loss": ("loss: cross-entropy of the class", "손실: 그 클래스의 교차 엔트로피"),
    "res.objective.score": ("score: the class's logit", "점수: 그 클래스의 로짓"),
    "res.target": ("Class", "클래스"),
    "res.running": ("Backpropagating through every block…", "모든 블록을 거쳐 역전파하는 중…"),
    "res.none": (
        "{model} has no residual blocks (no module adds a branch to its own input), so there is no skip to "
        "split the gradient at. Models with residual blocks: {models}. The plain-vs-residual comparison below "
        "works whatever model is chosen.",
        "{model}에는 Residual block이 없습니다 (자신의 입력에 잔차 경로를 더하는 모듈이 없음). 그래서 기울기를 나눌 "
        "skip connection이 없습니다. Residual block이 있는 모델: {models}. 아래의 plain vs residual 비교는 어떤 "
        "모델을 골라도 볼 수 있습니다.",
    ),
    "res.found": (
        "{n} residual blocks ({identity} with an identity skip, {other} with a projection or other skip). "
        "L = {value:.4g} for class “{name}” (p = {p:.1%}).",
        "Residual block {n}개 (항등 skip {identity}개, projection 등 다른 skip {other}개). "
        "클래스 “{name}”에 대한 L = {value:.4g} (p = {p:.1%}).",
    ),
    "res.grad_chart": ("Gradient norms per block (log scale)", "블록별 기울기 크기 (로그 스케일)"),
    "res.series.input": ("‖∂L/∂x‖ at the block's input", "블록 입력의 ‖∂L/∂x‖"),
    "res.series.output": ("‖∂L/∂H‖ at the block's output", "블록 출력의 ‖∂L/∂H‖"),
    "res.series.skip": ("through the skip ‖s'(x)ᵀg‖", "skip 경로로 온 부분 ‖s'(x)ᵀg‖"),
    "res.series.branch": ("through the branch ‖F'(x)ᵀg‖", "잔차 경로로 온 부분 ‖F'(x)ᵀg‖"),
    "res.act_chart": ("Activation norms per block (log scale)", "블록별 활성값 크기 (로그 스케일)"),
    "res.series.x": ("‖x‖ input", "‖x‖ 입력"),
    "res.series.fx": ("‖F(x)‖ residual branch", "‖F(x)‖ 잔차 경로"),
    "res.series.sx": ("‖s(x)‖ skip", "‖s(x)‖ skip"),
    "res.series.h": ("‖H(x)‖ output", "‖H(x)‖ 출력"),
    "res.share_chart": ("Shares of ∂L/∂x (they add up to 1)", "∂L/∂x 중 각 경로의 비율 (합은 1)"),
    "res.series.skip_share": ("skip share", "skip 비율"),
    "res.series.branch_share": ("branch share", "잔차 경로 비율"),
    "res.axis.norm": ("L2 norm", "L2 노름"),
    "res.axis.share": ("share", "비율"),
    "res.block": ("Block", "블록"),
    "res.block_item": ("{name} — {kind}, {skip} skip", "{name} — {kind}, {skip} skip"),
    "res.skip.identity": ("identity", "항등(identity)"),
    "res.skip.projection": ("projection", "projection"),
    "res.skip.parameter-free": ("parameter-free", "파라미터 없는"),
    "res.block_title": ("Block {name}: the numbers", "블록 {name}의 실제 값"),
    "res.metric.g": ("‖g‖ = ‖∂L/∂S‖ at the sum", "합 S에서의 ‖g‖ = ‖∂L/∂S‖"),
    "res.metric.skip": ("through the skip (the “+1”)", "skip 경로 (“+1”)"),
    "res.metric.skip_projection": ("through the skip ‖W_sᵀg‖", "skip 경로 ‖W_sᵀg‖"),
    "res.metric.branch": ("through F: ‖F'(x)ᵀg‖", "F를 통해: ‖F'(x)ᵀg‖"),
    "res.metric.total": ("total ‖∂L/∂x‖", "전체 ‖∂L/∂x‖"),
    "res.metric.share": ("{share:.0%} of ∂L/∂x", "∂L/∂x의 {share:.0%}"),
    "res.identity_eq": (
        "With an identity skip, the part of ∂L/∂x that comes through the skip is g itself, unchanged: the "
        "“+1” of ∂H/∂x = F'(x) + 1. The branch adds F'(x)ᵀg to it.",
        "항등 skip에서는 ∂L/∂x 중 skip을 통해 오는 부분이 g 그 자체입니다: ∂H/∂x = F'(x) + 1의 “+1”. 여기에 "
        "잔차 경로가 F'(x)ᵀg를 더합니다.",
    ),
    "res.projection_eq": (
        "This block changes the shape of its input, so its skip is a projection s(x) = W_s x ({modules}): "
        "∂L/∂x = F'(x)ᵀg + W_sᵀg.",
        "이 블록은 입력의 크기를 바꾸므로 skip이 projection s(x) = W_s x ({modules})입니다: "
        "∂L/∂x = F'(x)ᵀg + W_sᵀg.",
    ),
    "res.other_eq": (
        "This block's skip is a parameter-free operation ({modules}): ∂L/∂x = F'(x)ᵀg + s'(x)ᵀg.",
        "이 블록의 skip은 파라미터 없는 연산 ({modules})입니다: ∂L/∂x = F'(x)ᵀg + s'(x)ᵀg.",
    ),
    "res.relu_note": (
        "H = ReLU(S) here ({modules} runs on the sum). The split is made at the sum S = F(x) + s(x), before "
        "the ReLU: g = ∂L/∂S = ∂L/∂H ⊙ 1[S > 0] already holds the ReLU's mask, which both paths share.",
        "여기서는 H = ReLU(S)입니다 ({modules} 모듈이 합에 적용됨). 기울기는 ReLU 이전의 합 S = F(x) + s(x)에서 "
        "나눕니다: g = ∂L/∂S = ∂L/∂H ⊙ 1[S > 0]에 ReLU의 마스크가 이미 들어 있고, 두 경로가 이를 함께 씁니다.",
    ),
    "res.gain": (
        "Through this block the gradient's size changes by ×{gain:.3g} (‖∂L/∂x‖ / ‖g‖). Without the skip only "
        "the branch's part, ‖F'(x)ᵀg‖ = {branch:.3g}, would reach x.",
        "이 블록을 지나며 기울기 크기는 {gain:.3g}배가 됩니다 (‖∂L/∂x‖ / ‖g‖). skip이 없다면 잔차 경로 부분 "
        "‖F'(x)ᵀg‖ = {branch:.3g}만 x에 도달합니다.",
    ),
    "res.map.skip": ("Skip part of ∂L/∂x (norm over channels)", "∂L/∂x의 skip 부분 (채널 방향 노름)"),
    "res.map.branch": (
        "Branch part of ∂L/∂x (norm over channels)",
        "∂L/∂x의 잔차 경로 부분 (채널 방향 노름)",
    ),
    "res.nosplit": (
        "This block changes its sum in place after computing it, so the split into skip and branch cannot be "
        "measured here; the input and output gradients above still are.",
        "이 블록은 합을 계산한 뒤 제자리(in-place)에서 바꾸므로 skip/잔차 경로 분해를 잴 수 없습니다. 위의 입력·출력 "
        "기울기는 그대로 유효합니다.",
    ),
    "res.depth_title": (
        "Plain vs residual: gradients at initialisation",
        "Plain vs residual: 초기화 시점의 기울기",
    ),
    "res.depth_intro": (
        "The same untrained CIFAR-style network (16/32/64 channels, 3×3 convolutions), once without skips (the "
        "plain way) and once with them (ResNet), on the same seeded random images and labels. The chart shows "
        "the gradient that backpropagation hands to each layer, from the first layer (left) to the FC (right), "
        "where it starts. Without skips it changes by a factor at every layer on its way back, so over many "
        "layers it vanishes or explodes; the skips' “+1” keeps it near its size. The sentence under each chart "
        "says which way it went there.",
        "학습되지 않은 같은 CIFAR 형태의 네트워크 (16/32/64 채널, 3×3 합성곱)를 skip 없이 (기존 방식, plain) 한 "
        "번, skip과 함께 (ResNet) 한 번, 같은 시드의 무작위 이미지와 레이블로 비교합니다. 그래프는 역전파가 각 "
        "층에 전달하는 기울기를 첫 층(왼쪽)부터 역전파가 시작되는 FC(오른쪽)까지 보여줍니다. skip이 없으면 "
        "기울기가 거꾸로 전달되며 층마다 일정 배율로 변해서, 층이 많으면 사라지거나(기울기 소실) 폭발합니다(기울기 "
        "폭발). skip의 “+1”은 기울기를 거의 그 크기 그대로 전달합니다. 각 그래프 아래 문장이 거기서 어느 쪽이었는지 "
        "알려 줍니다.",
    ),
    "res.depths": ("Depths (number of layers)", "깊이 (층 수)"),
    "res.bn": ("with batch normalisation", "배치 정규화 사용"),
    "res.bn_help": (
        "Without batch normalisation (default) the layers keep PyTorch's default initialisation: the set-up in "
        "which a deep plain network's gradient vanishes. With it (and Kaiming initialisation) the plain "
        "network's gradient no longer vanishes; in a deep plain network it grows instead (explodes), and its "
        "training still gets harder with depth (the ResNet paper's degradation problem).",
        "배치 정규화가 없으면 (기본) 각 층은 PyTorch 기본 초기화를 씁니다: 깊은 plain 네트워크의 기울기가 "
        "사라지는 설정입니다. 배치 정규화(와 Kaiming 초기화)를 쓰면 plain 네트워크의 기울기는 사라지지 않고, 깊은 "
        "plain 네트워크에서는 오히려 커집니다(기울기 폭발). 층이 깊어질수록 최적화가 힘들어지는 문제(ResNet 논문의 "
        "degradation)는 남습니다.",
    ),
    "res.measure": ("Gradient shown", "보여줄 기울기"),
    "res.measure.activation": (
        "‖∂L/∂(output of layer ℓ)‖: what backpropagation hands each layer",
        "‖∂L/∂(층 ℓ의 출력)‖: 역전파가 각 층에 전달하는 기울기",
    ),
    "res.measure.weight": ("‖∂L/∂W‖ of layer ℓ: its weight update", "층 ℓ의 ‖∂L/∂W‖: 가중치가 바뀌는 크기"),
    "res.depth_chart": ("{depth} layers", "{depth}층"),
    "res.plain": ("plain (no skips)", "plain (기존 방식, skip 없음)"),
    "res.residual": ("residual (skips)", "residual (skip connection)"),
    "res.layer_axis": ("layer (1 = first)", "층 (1 = 첫 층)"),
    "res.grad_axis": ("gradient norm", "기울기 크기"),
    "res.depth_caption": (
        "First layer: plain {plain:.2e}, residual {residual:.2e} ({ratio}).",
        "첫 층: plain {plain:.2e}, residual {residual:.2e} ({ratio}).",
    ),
    "res.ratio_smaller": ("{x:.2g}× smaller without skips", "skip이 없으면 {x:.2g}배 작음"),
    "res.ratio_larger": ("{x:.2g}× larger without skips", "skip이 없으면 {x:.2g}배 큼"),
    "res.trend.shrinks": (
        "Without skips the gradient shrinks {x:.3g}× on its way back from the FC to the first layer. "
        "With skips it ends at {residual:.3g}× its size at the FC.",
        "skip이 없으면 기울기는 FC에서 첫 층으로 거꾸로 전달되며 {x:.3g}배 작아집니다. skip이 있으면 "
        "FC에서의 크기의 {residual:.3g}배가 됩니다.",
    ),
    "res.trend.grows": (
        "Without skips the gradient grows {x:.3g}× on its way back from the FC to the first layer. "
        "With skips it ends at {residual:.3g}× its size at the FC.",
        "skip이 없으면 기울기는 FC에서 첫 층으로 거꾸로 전달되며 {x:.3g}배 커집니다. skip이 있으면 "
        "FC에서의 크기의 {residual:.3g}배가 됩니다.",
    ),
    "res.reason.default": (
        "With PyTorch's default initialisation each layer passes back a little less than it received, so the "
        "first layers hardly learn (vanishing gradients).",
        "PyTorch 기본 초기화에서는 각 층이 받은 기울기보다 조금 작은 기울기를 앞으로 넘기므로, 앞쪽 층은 거의 "
        "학습되지 않습니다 (기울기 소실).",
    ),
    "res.reason.bn": (
        "Batch normalisation at initialisation (with batch statistics) makes each layer of a plain network pass "
        "back a little more than it received; over many layers that adds up (exploding gradients), and the "
        "first layers would take huge steps.",
        "초기화 시점의 배치 정규화(배치 통계 사용)는 plain 네트워크의 각 층이 받은 기울기보다 조금 큰 기울기를 "
        "앞으로 넘기게 합니다. 층이 많으면 이것이 쌓여 (기울기 폭발) 앞쪽 층이 지나치게 큰 걸음으로 학습됩니다.",
    ),
    "res.depth_none": ("Pick at least one depth.", "깊이를 하나 이상 고르세요."),
    "res.depth_running": ("Building and backpropagating the stacks…", "네트워크를 만들고 역전파하는 중…"),
    # --- SE attention ---------------------------------------------------------------------------------
    "se.intro": (
        "An SE block reweights the channels of a feature map by their relative importance. Squeeze: global "
        "average pooling (GAP) describes each channel by one number (1×1×C). Excitation: an FC layer reduces C "
        "channels to C/r, ReLU, an FC layer brings them back to C, and a sigmoid maps each to a weight between "
        "0 and 1. Scale: the feature map's channels are multiplied by those weights. The performance goes up "
        "much, the computation only a little (SENet won ILSVRC 2017).",
        "SE block은 특징 맵의 각 채널에 상대적 중요도에 따른 가중치를 줍니다. Squeeze: GAP(global average "
        "pooling)로 각 채널을 하나의 숫자로 묘사합니다 (1×1×C). Excitation: fc1이 C채널을 C/r개 채널로 축소하고, "
        "ReLU를 거친 뒤 fc2가 다시 C채널로 늘린 뒤 Sigmoid를 거쳐 0~1 범위의 값을 지니게 됩니다. 마지막으로 특징 맵과 "
        "곱해져 채널에 가중치를 줍니다. 성능은 많이 향상되는 반면 연산량 증가는 많지 않습니다 (SENet, 2017 "
        "ILSVRC 1등).",
    ),
    "se.running": ("Running the SE blocks…", "SE block 계산 중…"),
    "se.none": (
        "{model} has no SE blocks (no module multiplies its input by sigmoid weights computed from its global "
        "average). Models with SE blocks: {models}.",
        "{model}에는 SE block이 없습니다 (GAP로 구한 Sigmoid 가중치를 자신의 입력에 곱하는 모듈이 없음). "
        "SE block이 있는 모델: {models}.",
    ),
    "se.found": (
        "{n} SE blocks. The model sees “{name}” (p = {p:.1%}).",
        "SE block {n}개. 모델의 예측: “{name}” (p = {p:.1%}).",
    ),
    "se.found_plain": ("{n} SE blocks.", "SE block {n}개."),
    "se.heatmap": ("Excitation weights: SE blocks × channels", "Excitation 가중치: SE block × 채널"),
    "se.heatmap_help": (
        "Each row is one SE block, each column one channel (blue: suppressed, red: boosted; grey: the block "
        "has fewer channels).",
        "행은 SE block, 열은 채널입니다 (파랑: 억제, 빨강: 강조; 회색: 그 블록에는 없는 채널).",
    ),
    "se.axis.channel": ("channel", "채널"),
    "se.axis.block": ("SE block", "SE block"),
    "se.axis.weight": ("weight", "가중치"),
    "se.axis.value": ("value", "값"),
    "se.block": ("SE block", "SE block"),
    "se.pipeline": ("The pipeline of {name}", "{name}의 계산 과정"),
    "se.step.input": ("feature map", "특징 맵"),
    "se.step.squeeze": ("squeeze: GAP", "squeeze: GAP"),
    "se.step.fc1": ("FC: C → C/r", "fc1: C → C/r"),
    "se.step.fc2": ("FC: C/r → C", "fc2: C/r → C"),
    "se.step.scale": ("scale ×", "scale ×"),
    "se.shapes_caption": (
        "C = {c}, C/r = {cr} (r = {r:g}); between the FCs: {act}; gate: {gate}. Input feature map {h}×{w}×{c}.",
        "C = {c}, C/r = {cr} (r = {r:g}); FC 사이: {act}; 게이트: {gate}. 입력 특징 맵 {h}×{w}×{c}.",
    ),
    "se.squeeze": ("Squeeze (1×1×C)", "Squeeze (1×1×C)"),
    "se.reduced": ("Reduced (1×1×C/r), after {act}", "축소 (1×1×C/r), {act} 이후"),
    "se.sorted": ("Excitation weights, sorted", "정렬한 Excitation 가중치"),
    "se.vectors_caption": (
        "Left: the squeeze vector, each channel's global average. Middle: the reduced vector the second FC "
        "reads. Right: the excitation weights from highest to lowest, each channel's relative importance "
        "between 0 and 1.",
        "왼쪽: squeeze 벡터, 각 채널의 전역 평균. 가운데: 두 번째 FC가 읽는 축소 벡터. 오른쪽: 높은 것부터 "
        "정렬한 excitation 가중치, 0~1 사이로 나타낸 각 채널의 상대적 중요도.",
    ),
    "se.k": ("Channels to show", "보여줄 채널 수"),
    "se.boosted": ("Most boosted channels (highest weights)", "가장 강조된 채널 (가중치가 가장 큼)"),
    "se.suppressed": ("Most suppressed channels (lowest weights)", "가장 억제된 채널 (가중치가 가장 작음)"),
    "se.pairs_caption": (
        "Each row: the channel before (left) and after (right) the scaling, on one colour scale (white = 0). "
        "{items}",
        "각 행: 가중치를 곱하기 전(왼쪽)과 후(오른쪽)의 채널, 같은 색 범위 (흰색 = 0). {items}",
    ),
    "se.channel_weight": ("ch {c}: ×{w:.3f}", "채널 {c}: ×{w:.3f}"),
    "se.compare": ("Two images compared", "두 이미지 비교"),
    "se.compare_help": (
        "The excitation weights depend on the image. In the SENet paper the early blocks weighed channels "
        "much alike for every class and the later ones more by class; the bars below show how much the two "
        "images' weights differ here, block by block.",
        "Excitation 가중치는 이미지에 따라 달라집니다. SENet 논문에서는 앞쪽 블록이 어떤 클래스든 채널에 "
        "비슷한 가중치를 주고, 뒤쪽 블록일수록 클래스에 따라 다른 가중치를 주었습니다. 아래 막대는 여기서 두 "
        "이미지의 가중치가 블록마다 얼마나 다른지 보여줍니다.",
    ),
    "se.second": ("Second image (sample)", "두 번째 이미지 (샘플)"),
    "se.first_caption": ("Your image: “{name}” ({p:.1%})", "고른 이미지: “{name}” ({p:.1%})"),
    "se.second_caption": ("{image}: “{name}” ({p:.1%})", "{image}: “{name}” ({p:.1%})"),
    "se.diff_chart": (
        "Mean |difference| of the two images' weights, per block",
        "블록별 두 이미지 가중치 차이의 평균 |Δ|",
    ),
    "se.block_compare": ("{name}, channel by channel", "{name}, 채널별"),
    "se.block_compare_help": (
        "One point per channel; on the dotted diagonal a channel gets the same weight for both images.",
        "채널마다 점 하나; 점선 대각선 위의 채널은 두 이미지에서 같은 가중치를 받습니다.",
    ),
    "se.axis.first": ("weight for your image", "고른 이미지의 가중치"),
    "se.axis.second": ("weight for {image}", "{image}의 가중치"),
    "se.mean_abs": ("mean |Δw|", "평균 |Δw|"),
}
