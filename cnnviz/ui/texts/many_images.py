# ruff: noqa: E501
# A translation table: sentences read better unwrapped, as in cnnviz/ui/text.py.
"""Sentences of the "Many images" page (pages/11_Many_images.py)."""

TEXT: dict[str, tuple[str, str]] = {
    "page.dataset": ("Many images", "여러 이미지로 보기"),
    "page.dataset.blurb": (
        "top images per channel, layer health, mistakes and comparisons over an image set",
        "이미지 세트 전체에서 채널별 상위 이미지, 층 상태, 오분류, 모델 비교",
    ),
    "many.intro": (
        "One picture shows what a channel does on that picture; a set of pictures shows what the channel looks for, which channels never fire, where the model is wrong and how two models differ.",
        "이미지 한 장은 그 이미지에서 채널이 하는 일만 보여 줍니다. 이미지 세트를 쓰면 채널이 무엇을 찾는지, 어떤 채널이 전혀 활성화되지 않는지, 모델이 어디서 틀리는지, 두 모델이 어떻게 다른지 볼 수 있습니다.",
    ),
    "many.source": ("Image set", "이미지 세트"),
    "many.source.bundled": ("Bundled", "포함된 세트"),
    "many.source.zip": ("Zip upload", "zip 업로드"),
    "many.bundled": ("Bundled set", "포함된 세트"),
    "many.zip": (
        "A zip of images (class subfolders make it labelled)",
        "이미지 zip 파일 (클래스별 하위 폴더가 있으면 레이블이 있는 세트)",
    ),
    "many.zip_help": (
        "Like torchvision's ImageFolder: cat/1.png, dog/2.png ... gives the classes cat and dog; images directly in the zip give an unlabelled set. Nothing is extracted; links, unsafe names and non-images are skipped and counted.",
        "torchvision의 ImageFolder처럼 cat/1.png, dog/2.png ... 이면 클래스는 cat과 dog입니다. zip 바로 안의 이미지는 레이블 없는 세트가 됩니다. 압축은 풀지 않으며, 링크·위험한 이름·이미지가 아닌 파일은 건너뛰고 개수를 셉니다.",
    ),
    "many.zip_none": ("Upload a zip of images to start.", "시작하려면 이미지 zip 파일을 올리세요."),
    "many.set": ("Set {name}: {n} images, {kind}.", "세트 {name}: 이미지 {n}장, {kind}."),
    "many.classes": ("labelled with {n} classes", "클래스 {n}개로 레이블됨"),
    "many.unlabelled": ("unlabelled", "레이블 없음"),
    "many.progress": ("{done} of {total} images", "이미지 {total}장 중 {done}장"),
    "many.view": ("View", "보기"),
    "many.view.top": ("Top images per channel", "채널별 상위 이미지"),
    "many.view.health": ("Layer health", "층 상태"),
    "many.view.mistakes": ("Mistakes", "오분류"),
    "many.view.compare": ("Compare", "비교"),
    "many.needs_labels": (
        "This view needs a labelled set: a zip with one subfolder per class.",
        "이 보기에는 레이블이 있는 세트가 필요합니다: 클래스마다 하위 폴더가 하나씩 있는 zip.",
    ),
    "many.mismatch": (
        "The set's classes ({classes} ...) are not the model's classes, by name or by number.",
        "세트의 클래스({classes} ...)가 이름으로도 번호로도 모델의 클래스와 맞지 않습니다.",
    ),
    "many.col.layer": ("layer", "층"),
    "many.col.kind": ("kind", "종류"),
    "many.col.channel": ("channel", "채널"),
    "many.col.channels": ("channels", "채널 수"),
    "many.col.image": ("image", "이미지"),
    "many.col.dead": ("dead", "죽은 채널"),
    "many.col.always_on": ("always on", "항상 켜진 채널"),
    "many.col.saturated": ("saturated", "포화된 채널"),
    "many.col.mean": ("mean", "평균"),
    "many.col.std": ("std", "표준편차"),
    "many.col.zero_fraction": ("share of zeros", "0의 비율"),
    "many.col.gradient_norm": ("gradient norm", "기울기 크기"),
    "many.col.bn_mean_shift": ("BN mean shift", "BN 평균 차이"),
    "many.col.bn_var_ratio": ("BN variance ratio", "BN 분산 비율"),
    # --- top images
    "many.top.layer": ("Layer", "층"),
    "many.top.k": ("Images per channel (k)", "채널마다 보여 줄 이미지 수 (k)"),
    "many.top.best": ("best score", "최고 점수"),
    "many.top.chart": (
        "Each channel's highest maximum over the set: {layer}",
        "세트 전체에서 각 채널 최댓값의 최고치: {layer}",
    ),
    "many.top.channel": ("Channel", "채널"),
    "many.top.channel_item": ("channel {c} (best {s:.3g})", "채널 {c} (최고 {s:.3g})"),
    "many.top.help": (
        "The {k} images on which this channel's maximum over all positions of {layer}'s feature map is highest, best first. Each crop is the receptive field of the position of that maximum: the part of the input the channel saw.",
        "{layer}의 특징 맵에서 이 채널의 최댓값(모든 위치 중)이 가장 큰 이미지 {k}장을 큰 순서로 보여 줍니다. 각 조각은 그 최댓값 위치의 수용 영역, 즉 채널이 본 입력 부분입니다.",
    ),
    "many.top.tile": ("{path} · {s:.3g}", "{path} · {s:.3g}"),
    "many.top.open": ("Open in Feature maps", "특징 맵에서 열기"),
    "many.top.open_help": (
        "Makes this image the current image and opens the Feature maps page at this layer and channel.",
        "이 이미지를 현재 이미지로 정하고 특징 맵 페이지를 이 층과 채널로 엽니다.",
    ),
    # --- layer health
    "many.health.worst": ("Layers to look at first: {layers}.", "먼저 살펴볼 층: {layers}."),
    "many.health.none": (
        "No layer has dead, saturated or shifted channels on this set.",
        "이 세트에서는 죽은 채널, 포화된 채널, 통계가 어긋난 층이 없습니다.",
    ),
    "many.health.grad": (
        "Gradient norm of the loss at each layer's output (RMS over images)",
        "각 층 출력에서 손실의 기울기 크기 (이미지에 대한 RMS)",
    ),
    "many.health.no_grad": (
        "Gradient norms need a labelled set whose classes are the model's.",
        "기울기 크기는 모델과 같은 클래스로 레이블된 세트에서만 계산합니다.",
    ),
    "many.health.layer": ("Layer for the histogram", "히스토그램을 볼 층"),
    "many.health.hist": (
        "Activation histogram of {layer} ({kind}), all images and positions",
        "{layer} ({kind})의 활성값 히스토그램, 모든 이미지와 위치",
    ),
    "many.health.dead": (
        "Dead channels (never above 0 on any image or position): {n} of {c}: {list}",
        "죽은 채널 (어떤 이미지, 어떤 위치에서도 0보다 크지 않음): {c}개 중 {n}개: {list}",
    ),
    "many.health.always_on": (
        "Always-on channels (above 0 everywhere): {n} of {c}: {list}",
        "항상 켜진 채널 (모든 곳에서 0보다 큼): {c}개 중 {n}개: {list}",
    ),
    "many.health.saturated": (
        "Saturated channels (stuck near the bounds of the sigmoid/tanh): {n} of {c}: {list}",
        "포화된 채널 (시그모이드/tanh의 경계 근처에 머묾): {c}개 중 {n}개: {list}",
    ),
    "many.health.bn": (
        "Batch norm: the set's mean is up to {shift:.2f} running standard deviations from the running mean; variances differ up to {ratio:.2f}×.",
        "배치 정규화: 세트의 평균이 저장된 평균에서 최대 {shift:.2f} 표준편차만큼 떨어져 있고, 분산은 최대 {ratio:.2f}배 다릅니다.",
    ),
    # --- mistakes
    "many.mis.accuracy": ("Accuracy", "정확도"),
    "many.mis.count": (
        "{right} of {n} images right, {wrong} wrong.",
        "이미지 {n}장 중 {right}장 정답, {wrong}장 오답.",
    ),
    "many.mis.confusion": (
        "Confusion matrix (rows: true class, columns: predicted)",
        "혼동 행렬 (행: 실제 클래스, 열: 예측 클래스)",
    ),
    "many.mis.confusion_help": ("Classes in order: {classes}.", "클래스 순서: {classes}."),
    "many.mis.true_pred": ("true \\ predicted", "실제 \\ 예측"),
    "many.mis.none": ("No mistakes on this set.", "이 세트에서는 틀린 이미지가 없습니다."),
    "many.mis.list": ("Mistakes, most confident first", "오분류 (확신이 큰 순서)"),
    "many.mis.true": ("true class", "실제 클래스"),
    "many.mis.predicted": ("predicted", "예측"),
    "many.mis.confidence": ("confidence", "확신도"),
    "many.mis.pick": ("Mistake", "오분류"),
    "many.mis.item": (
        "{path}: {true} taken for {pred} ({p:.1%})",
        "{path}: {true}을(를) {pred}(으)로 예측 ({p:.1%})",
    ),
    "many.mis.top5": ("Top 5", "상위 5개"),
    "many.mis.cam": ("Grad-CAM of {name}", "{name}의 Grad-CAM"),
    "many.mis.active": ("Most active channels of {layer}: {list}", "{layer}에서 가장 활발한 채널: {list}"),
    # --- compare
    "many.cmp.mode": ("Compare", "비교 대상"),
    "many.cmp.mode.models": ("Two models", "모델 두 개"),
    "many.cmp.mode.images": ("Two images", "이미지 두 장"),
    "many.cmp.second": ("Second model", "두 번째 모델"),
    "many.cmp.untrained": (
        "{name} with untrained (random) weights",
        "학습되지 않은 (무작위) 가중치의 {name}",
    ),
    "many.cmp.upload": ("{name}: another checkpoint (upload)", "{name}: 다른 체크포인트 (업로드)"),
    "many.cmp.weights": ("A checkpoint of {name} (state_dict)", "{name}의 체크포인트 (state_dict)"),
    "many.cmp.weights_none": (
        "Upload the second checkpoint to compare.",
        "비교할 두 번째 체크포인트를 올리세요.",
    ),
    "many.cmp.cka": (
        "Similarity per layer (linear CKA over the set): {a} vs {b}",
        "층별 유사도 (세트 전체의 선형 CKA): {a} 대 {b}",
    ),
    "many.cmp.agree": (
        "They predict the same class on {share:.1%} of the {images} images and differ on {n}.",
        "이미지 {images}장 중 {share:.1%}에서 같은 클래스를 예측하고, {n}장에서 다릅니다.",
    ),
    "many.cmp.image": ("Image for the side-by-side view", "나란히 볼 이미지"),
    "many.cmp.side": ("{model}: {name} ({p:.1%})", "{model}: {name} ({p:.1%})"),
    "many.cmp.layer": ("Layer for the feature maps side by side", "나란히 볼 특징 맵의 층"),
    "many.cmp.maps": (
        "{model}: the 16 most active channels of {layer}",
        "{model}: {layer}에서 가장 활발한 채널 16개",
    ),
    "many.cmp.image_a": ("First image", "첫 번째 이미지"),
    "many.cmp.image_b": ("Second image", "두 번째 이미지"),
    "many.cmp.cosine": ("cosine", "코사인 유사도"),
    "many.cmp.pair_chart": (
        "The two images, layer by layer: how alike their feature maps are",
        "두 이미지의 층별 특징 맵 유사도",
    ),
    "many.cmp.pred": ("{path}: {name} ({p:.1%})", "{path}: {name} ({p:.1%})"),
    # --- export
    "many.download": ("Download this view", "이 화면 내려받기"),
    "many.download_help": (
        "One HTML file with this view's numbers and images inside: it opens without a server or a network.",
        "이 화면의 숫자와 이미지가 모두 들어 있는 HTML 파일 하나입니다. 서버나 네트워크 없이 열립니다.",
    ),
}
