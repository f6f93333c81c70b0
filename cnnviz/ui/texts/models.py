"""Each registered model's one-line note in the lecture's words, shown under a page's title.

Keyed by the registry name: ``model.note.<name>``. A model wrapped by `cnnviz.models.from_module` has none.
"""

TEXT: dict[str, tuple[str, str]] = {
    "model.note.lenet5": (
        "LeNet-5 (1998), the dawn of CNNs: convolution and average pooling alternate, then FC layers "
        "classify handwritten digits; tanh activations.",
        "LeNet-5 (1998), CNN의 태동 같은 모델: Convolution Layer와 Average Pooling Layer를 교차하여 통과시킨 "
        "후 FC Layer로 손글씨를 분류; 활성화 함수 tanh.",
    ),
    "model.note.alexnet-mini": (
        "AlexNet (won ILSVRC 2012 by a wide margin) in miniature: ReLU instead of tanh, max pooling instead "
        "of average pooling, dropout, and data augmentation; trained on synthetic shapes.",
        "AlexNet(2012 ILSVRC에서 큰 격차로 우승)의 축소판: tanh 대신 ReLU, Average Pooling 대신 Max Pooling, "
        "Drop Out과 Data Augmentation 사용; 합성 도형 데이터로 학습.",
    ),
    "model.note.vgg-mini": (
        "VGGNet (ILSVRC 2014 runner-up) in miniature: only 3×3 filters with stride 1 and padding 1 from "
        "start to end, and only max pooling; two stacked 3×3 convolutions see a 5×5 area with fewer "
        "parameters and one more non-linearity.",
        "VGGNet(2014 ILSVRC 준우승)의 축소판: 처음부터 끝까지 stride = 1, padding = 1인 (3,3) 필터만, "
        "Pooling은 Max Pooling만 사용; 3×3 두 번은 5×5 한 번과 같은 영역을 더 적은 파라미터로 보고 "
        "비선형성을 2번 추가.",
    ),
    "model.note.resnet-mini": (
        "ResNet in miniature: each residual block adds its input to the output of its convolutions, H(x) = "
        "F(x) + x, so ∂H/∂x = F'(x) + 1 keeps the gradient from vanishing.",
        "ResNet의 축소판: Residual block은 이전 layer의 결과를 Convolution Layer 이후로 넘겨 그대로 더함, "
        "H(x) = F(x) + x; ∂H/∂x = F'(x) + 1이므로 기울기 소실 문제 예방.",
    ),
    "model.note.se-resnet-mini": (
        "SE-ResNet (SENet won ILSVRC 2017) in miniature: each SE block squeezes every channel to one number "
        "by global average pooling, excites with FC → ReLU → FC → sigmoid (C → C/r → C, r = 4) and reweights "
        "the feature map's channels by those 0–1 weights.",
        "SE-ResNet(SENet, 2017 ILSVRC 1등)의 축소판: SE block이 GAP(global average pooling)로 각 채널을 "
        "하나의 숫자로 묘사하고 FC → ReLU → FC → Sigmoid(C → C/r → C, r = 4)로 구한 0~1 중요도를 Feature "
        "Map의 채널에 곱해 가중치를 줌.",
    ),
    "model.note.plainnet-mini": (
        "ResNet-mini's depth without the skip connections (the plain way): each block must learn H(x) "
        "directly, and the deeper a plain network, the harder it is to optimise.",
        "ResNet-mini와 같은 깊이에서 skip connection을 뺀 기존 방식(plain) 네트워크: 각 block이 H(x)를 직접 "
        "학습해야 하고, 층이 깊어질수록 최적화가 힘들어진다.",
    ),
    "model.note.mobilenet_v2": (
        "MobileNetV2 (2018): depthwise separable convolutions in inverted residual blocks; real ImageNet "
        "weights that work offline.",
        "MobileNetV2 (2018): inverted residual block 안의 depthwise separable convolution; 오프라인에서도 "
        "쓰는 실제 ImageNet 가중치.",
    ),
    "model.note.alexnet": (
        "AlexNet (2012 ILSVRC winner): ReLU instead of tanh, max pooling, dropout and data augmentation.",
        "AlexNet (2012 ILSVRC 우승): tanh 대신 ReLU, Max Pooling, Drop Out, Data Augmentation 사용.",
    ),
    "model.note.vgg16": (
        "VGG-16 (2014): only 3×3 filters (stride 1, padding 1) and max pooling, stacked deep; two 3×3 layers "
        "see a 5×5 field with fewer parameters.",
        "VGGNet (2014 ILSVRC 준우승): stride 1, padding 1인 3×3 필터와 Max Pooling만 깊게 쌓음; 3×3 두 번은 "
        "5×5 한 번보다 적은 파라미터.",
    ),
    "model.note.resnet18": (
        "ResNet-18 (2015): residual blocks H(x) = F(x) + x; the skip connection's derivative 1 keeps "
        "gradients from vanishing.",
        "ResNet-18 (2015): Residual block H(x) = F(x) + x; 미분값 F'(x) + 1로 기울기 소실 예방.",
    ),
    "model.note.resnet50": (
        "ResNet-50 (2015): deeper residual network of 1×1-3×3-1×1 bottleneck blocks, H(x) = F(x) + x.",
        "ResNet-50 (2015): 1×1-3×3-1×1 bottleneck residual block을 깊게 쌓은 모델, H(x) = F(x) + x.",
    ),
    "model.note.efficientnet_b0": (
        "EfficientNet-B0 (2019): inverted residual blocks, each with a squeeze-and-excitation (SE) block.",
        "EfficientNet-B0 (2019): 모든 inverted residual block에 SE block(squeeze & excitation)을 사용.",
    ),
    "model.note.mobilenet_v3_large": (
        "MobileNetV3-Large (2019): light depthwise convolutions with SE blocks that reweight channels.",
        "MobileNetV3-Large (2019): 가벼운 depthwise convolution과 채널에 가중치를 주는 SE block.",
    ),
    "model.note.regnet_y_400mf": (
        "RegNetY-400MF (2020): a regular ResNet-like design whose every block has an SE block (the Y).",
        "RegNetY-400MF (2020): 규칙적인 ResNet 형태에 모든 block마다 SE block을 넣은 모델 (Y).",
    ),
    "model.note.yolo-mini": (
        "A 1-stage detector in the style of YOLO (v1): the image is divided into a 6×6 grid and every cell "
        "predicts 2 boxes with a confidence and the class probabilities in one pass; trained on shapes.",
        "YOLO(v1) 방식의 1-stage detector: 이미지를 6×6 그리드로 나누고 각 셀이 한 번의 연산으로 bbox 2개와 "
        "confidence score, 클래스 확률을 동시에 예측; 합성 도형 데이터로 학습.",
    ),
    "model.note.mtcnn": (
        "MTCNN face detector (2016), a cascade like the 2-stage family: P-Net scores a 12×12 window at every "
        "position of an image pyramid and proposes boxes, R-Net and O-Net re-check crops of them and O-Net "
        "adds five landmarks.",
        "MTCNN 얼굴 탐지기(2016), 2-stage 계열처럼 단계를 거치는 cascade: P-Net이 이미지 피라미드의 모든 "
        "위치에서 12×12 창을 평가해 bbox 후보를 제안하고, R-Net과 O-Net이 그 영역을 잘라 다시 판단하며 "
        "O-Net은 얼굴 특징점 5개를 찾음.",
    ),
    "model.note.fasterrcnn_resnet50_fpn": (
        "Faster R-CNN (2015), the 2-stage R-CNN family: a region proposal network suggests regions of "
        "interest (RoI), then RoI heads classify each one and refine its box; ResNet-50 with a feature "
        "pyramid.",
        "Faster R-CNN (2015), R-CNN 계열의 2-stage detector: 영역 제안 네트워크(RPN)가 RoI(객체가 있을 "
        "것으로 예상되는 위치)를 고르고, RoI head가 각 영역을 분류하고 bbox를 수정함; ResNet-50 + FPN.",
    ),
    "model.note.fasterrcnn_mobilenet_v3_large_320_fpn": (
        "Faster R-CNN on a light MobileNetV3 backbone at 320 pixels: the same two stages (proposals, then "
        "RoI heads), fast enough for a laptop.",
        "가벼운 MobileNetV3 backbone을 쓰는 320 픽셀 Faster R-CNN: 같은 두 단계(영역 제안 → RoI head), "
        "노트북에서도 빠름.",
    ),
    "model.note.retinanet_resnet50_fpn": (
        "RetinaNet (2017), a 1-stage detector: every position of every pyramid level predicts classes and "
        "boxes for its anchors in one pass; the focal loss made it as accurate as 2-stage detectors.",
        "RetinaNet (2017), 1-stage detector: 피라미드의 모든 위치가 anchor마다 클래스와 bbox를 한 번에 예측; "
        "focal loss로 2-stage만큼 정확해짐.",
    ),
    "model.note.fcos_resnet50_fpn": (
        "FCOS (2019), a 1-stage detector without anchors: every position of the feature pyramid predicts a "
        "class, its distances to the four box sides and a centre-ness score.",
        "FCOS (2019), anchor 없는 1-stage detector: 특징 피라미드의 모든 위치가 클래스, bbox 네 변까지의 "
        "거리와 중심도(centre-ness)를 예측.",
    ),
    "model.note.ssdlite320_mobilenet_v3_large": (
        "SSDlite (SSD, 2016) on MobileNetV3 at 320 pixels: a 1-stage detector that predicts boxes from "
        "feature maps of several sizes in one pass; small and fast.",
        "MobileNetV3 기반 320 픽셀 SSDlite (SSD, 2016): 여러 크기의 특징 맵에서 한 번에 bbox를 예측하는 "
        "1-stage detector; 작고 빠름.",
    ),
    "model.note.dcgan": (
        "DCGAN (2015) on handwritten digits: a generator of transposed convolutions and a discriminator of "
        "convolutions learn against each other until the fakes look real.",
        "DCGAN (2015), 손글씨 숫자: Generator(생성자)와 Discriminator(판별자)가 서로 적대적으로 학습하며 "
        "진짜 같은 가짜 이미지를 생성.",
    ),
    "model.note.fcn-mini": (
        "FCN in miniature (2015): the shapes classifier ResNet-mini shrinks a scene 96 → 6 pixels, its FC "
        "becomes a 1×1 convolution scoring every class at each position, and transposed convolutions grow "
        "the scores back to 96 with skips from the encoder, so every pixel gets a class (semantic).",
        "FCN의 축소판 (2015): 도형 분류기 ResNet-mini가 장면을 96 → 6 픽셀로 줄이고, FC layer를 1×1 "
        "convolution으로 바꿔 위치마다 class 점수를 낸 뒤, 전치 합성곱(transposed convolution)이 인코더의 "
        "skip과 함께 점수를 다시 96으로 키워 모든 픽셀을 class로 분류 (semantic segmentation).",
    ),
    "model.note.fcn-mini-instance": (
        "FCN-mini with a centre heatmap and an offset map (Panoptic-DeepLab style): each object gets its own "
        "mask, so two shapes of one class get two masks (instance).",
        "FCN-mini에 중심 heatmap과 offset 맵을 더한 모델 (Panoptic-DeepLab 방식): 객체마다 각자의 mask, 같은 "
        "class의 도형 두 개도 서로 다른 mask (instance segmentation).",
    ),
    "model.note.fcn_resnet50": (
        "FCN-ResNet50 (2015): a fully convolutional network; the ResNet encoder's 1/8-size class map is "
        "upsampled back to the input size, one class per pixel (20 VOC classes + background).",
        "FCN-ResNet50 (2015): 완전 합성곱 신경망; ResNet 인코더가 만든 1/8 크기의 class 맵을 입력 크기로 "
        "다시 키워 픽셀마다 class를 분류 (VOC 20개 class + 배경).",
    ),
    "model.note.deeplabv3_resnet50": (
        "DeepLabV3-ResNet50 (2017): dilated convolutions keep the map at 1/8 size, ASPP looks at several "
        "scales at once, then the mask is upsampled to the input size.",
        "DeepLabV3-ResNet50 (2017): dilated convolution으로 맵을 1/8 크기로 유지하고 ASPP로 여러 크기를 한 "
        "번에 본 뒤 mask를 입력 크기로 키움.",
    ),
    "model.note.lraspp_mobilenet_v3_large": (
        "LR-ASPP MobileNetV3-Large (2019): a light segmentation head on MobileNetV3, fast enough for phones.",
        "LR-ASPP MobileNetV3-Large (2019): MobileNetV3 위의 가벼운 분할 head, 휴대폰에서도 빠름.",
    ),
    "model.note.maskrcnn_resnet50_fpn": (
        "Mask R-CNN (2017): a 2-stage detector (Faster R-CNN) with a small mask head that paints a 28×28 "
        "mask inside every box, so each object gets its own mask (COCO classes).",
        "Mask R-CNN (2017): 2-stage 탐지기(Faster R-CNN)에 작은 mask head를 더해 박스마다 28×28 mask를 그림; "
        "객체마다 각자의 mask (COCO class).",
    ),
}
