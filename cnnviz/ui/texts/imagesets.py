# ruff: noqa: E501
# A translation table: sentences read better unwrapped, as in cnnviz/ui/text.py.
"""Sentences about image sets (cnnviz.imagesets): their errors, what was skipped, the bundled sets.

``setserr.<key>`` translates an `ImageSetError` with its ``params``. For ``nothing_usable`` the page first
turns ``params["skipped"]`` (reason -> count) into one string, the ``sets.skip.<reason>`` phrases joined by
", ", and passes that as ``skipped``; ``sets.skipped`` says the same for a set that did open.
"""

TEXT: dict[str, tuple[str, str]] = {
    # --- errors (cnnviz.imagesets.ImageSetError.key) ----------------------------------------------------
    "setserr.not_found": (
        "No folder or zip file was found at '{name}'.",
        "'{name}'에서 폴더나 zip 파일을 찾을 수 없습니다.",
    ),
    "setserr.not_folder": (
        "'{name}' is a file, not a folder of images.",
        "'{name}'은(는) 이미지 폴더가 아니라 파일입니다.",
    ),
    "setserr.not_zip": (
        "'{name}' is not a zip file, or it is damaged, so no image could be read from it.",
        "'{name}'은(는) zip 파일이 아니거나 손상되어 이미지를 읽을 수 없습니다.",
    ),
    "setserr.empty": ("There are no files in '{name}'.", "'{name}' 안에 파일이 하나도 없습니다."),
    "setserr.too_many_members": (
        "'{name}' holds more than {limit:,} files and folders, the most cnnviz reads from one set.",
        "'{name}'에 파일과 폴더가 {limit:,}개보다 많습니다. cnnviz는 한 세트에서 그보다 많이 읽지 않습니다.",
    ),
    "setserr.too_large": (
        "The files in '{name}' add up to more than {limit} ({size} or more), the most cnnviz reads from one set.",
        "'{name}' 안의 파일을 모두 합하면 {limit}보다 큽니다 ({size} 이상). cnnviz는 한 세트에서 그보다 많이 읽지 않습니다.",
    ),
    "setserr.bomb": (
        "The member '{member}' of '{name}' expands {ratio:,} times (from {compressed} to at least {size}), as zip bombs do; cnnviz allows {limit:,} times.",
        "'{name}' 안의 '{member}'은(는) 압축을 풀면 {ratio:,}배로 커집니다 ({compressed} → {size} 이상). zip 폭탄(zip bomb)의 특징이며, cnnviz는 {limit:,}배까지만 허용합니다.",
    ),
    "setserr.nothing_usable": (
        "Nothing in '{name}' is an image cnnviz can use (skipped: {skipped}).",
        "'{name}' 안에 cnnviz가 쓸 수 있는 이미지가 없습니다 (건너뛴 것: {skipped}).",
    ),
    "setserr.unknown_bundled": (
        "There is no bundled image set named '{name}'; the bundled sets are {names}.",
        "'{name}'이라는 내장 이미지 세트는 없습니다. 내장 세트: {names}.",
    ),
    # --- what was skipped (cnnviz.imagesets.SKIP_REASONS) ------------------------------------------------
    "sets.skipped": ("Skipped: {skipped}.", "건너뛴 파일: {skipped}."),
    "sets.skip.unsafe_path": (
        "unsafe path (.., absolute, drive letter or backslash): {count:,}",
        "안전하지 않은 경로 (.., 절대 경로, 드라이브 문자, 역슬래시): {count:,}",
    ),
    "sets.skip.symlink": ("symbolic link: {count:,}", "심볼릭 링크: {count:,}"),
    "sets.skip.not_regular": ("not a regular file: {count:,}", "일반 파일이 아님: {count:,}"),
    "sets.skip.hidden": ("hidden: {count:,}", "숨김 파일: {count:,}"),
    "sets.skip.encrypted": ("encrypted: {count:,}", "암호화됨: {count:,}"),
    "sets.skip.duplicate": ("duplicate name: {count:,}", "중복된 이름: {count:,}"),
    "sets.skip.unlabelled": (
        "outside the class folders: {count:,}",
        "클래스 폴더 밖에 있음: {count:,}",
    ),
    "sets.skip.empty": ("empty: {count:,}", "빈 파일: {count:,}"),
    "sets.skip.too_large": ("too large: {count:,}", "너무 큼: {count:,}"),
    "sets.skip.not_image": ("not an image: {count:,}", "이미지가 아님: {count:,}"),
    "sets.skip.damaged": ("damaged: {count:,}", "손상됨: {count:,}"),
    "sets.skip.unreadable": ("unreadable: {count:,}", "읽을 수 없음: {count:,}"),
    # --- bundled sets (cnnviz.imagesets.BUNDLED) -------------------------------------------------------
    "sets.bundled.digits": (
        "Held-out digits for LeNet-5 (200 images, 20 per digit, never used in training)",
        "LeNet-5용 평가 숫자 (200장, 숫자마다 20장, 학습에 쓰지 않은 데이터)",
    ),
    "sets.bundled.shapes": (
        "Held-out shapes for the mini networks (180 images, never used in training)",
        "미니 네트워크용 평가 도형 (180장, 학습에 쓰지 않은 데이터)",
    ),
    "sets.bundled.samples": (
        "The sample photos for MobileNetV2 (8 photos and their quarters, 40 images, no labels)",
        "MobileNetV2용 샘플 사진 (사진 8장과 그 4등분, 40장, 레이블 없음)",
    ),
}
