# ruff: noqa: E501
# A translation table: sentences read better unwrapped, as in cnnviz/ui/text.py.
"""Sentences of cnnviz.models.checkpoint's errors (``ckpterr.<CheckpointError.key>``), English and Korean.

The English is exactly `str(err)` of the error, filled from ``err.params`` (tests check that), so the table is
the one place a sentence is reworded. Korean in the lecture's terms: 가중치, 체크포인트, 텐서, 클래스, 모델.
"""

TEXT: dict[str, tuple[str, str]] = {
    "ckpterr.empty": (
        "The checkpoint file “{name}” is empty.",
        "체크포인트 파일 “{name}”이(가) 비어 있습니다.",
    ),
    "ckpterr.not_found": (
        "No file was found at “{name}”.",
        "“{name}”에 파일이 없습니다.",
    ),
    "ckpterr.unreadable": (
        "The file “{name}” could not be opened ({reason}).",
        "파일 “{name}”을(를) 열 수 없습니다 ({reason}).",
    ),
    "ckpterr.too_large": (
        "“{name}” is {size_mb:.1f} MB; a checkpoint may have at most {limit_mb:.1f} MB.",
        "“{name}”은(는) {size_mb:.1f} MB입니다. 체크포인트는 최대 {limit_mb:.1f} MB까지 읽을 수 있습니다.",
    ),
    "ckpterr.not_checkpoint": (
        "“{name}” is not a checkpoint: cnnviz reads .safetensors files and state dicts saved with torch.save (.pt, .pth, .bin, .ckpt).",
        "“{name}”은(는) 체크포인트가 아닙니다: cnnviz는 .safetensors 파일과 torch.save로 저장한 state dict (.pt, .pth, .bin, .ckpt)를 읽습니다.",
    ),
    "ckpterr.damaged": (
        "“{name}” looks like a PyTorch checkpoint but could not be read; it may be truncated or damaged ({reason}).",
        "“{name}”은(는) PyTorch 체크포인트처럼 보이지만 읽을 수 없습니다. 파일이 잘렸거나 손상된 것 같습니다 ({reason}).",
    ),
    "ckpterr.bad_safetensors": (
        "“{name}” is not a valid safetensors file ({reason}).",
        "“{name}”은(는) 올바른 safetensors 파일이 아닙니다 ({reason}).",
    ),
    "ckpterr.whole_model": (
        '“{name}” holds a whole pickled model ({cls}), not only its weights; loading it would run code from the file, so cnnviz does not. Save the weights instead with torch.save(model.state_dict(), "weights.pt") (or safetensors.torch.save_file(model.state_dict(), "weights.safetensors")) and use that file.',
        '“{name}”에는 가중치만이 아니라 pickle로 저장한 모델 전체 ({cls})가 들어 있습니다. 이를 불러오면 파일 안의 코드가 실행되므로 cnnviz는 불러오지 않습니다. 대신 torch.save(model.state_dict(), "weights.pt") (또는 safetensors.torch.save_file(model.state_dict(), "weights.safetensors"))로 가중치만 저장해 그 파일을 사용하세요.',
    ),
    "ckpterr.objects": (
        '“{name}” holds Python objects besides tensors ({cls}); loading them would run code from the file, so cnnviz does not. Save only the weights, with torch.save(model.state_dict(), "weights.pt").',
        '“{name}”에는 텐서 외에 파이썬 객체 ({cls})가 들어 있습니다. 이를 불러오면 파일 안의 코드가 실행되므로 cnnviz는 불러오지 않습니다. torch.save(model.state_dict(), "weights.pt")로 가중치만 저장하세요.',
    ),
    "ckpterr.not_state_dict": (
        '“{name}” holds a {kind}, not a state dict (parameter names mapped to tensors); save one with torch.save(model.state_dict(), "weights.pt").',
        '“{name}”에는 state dict (파라미터 이름 → 텐서)가 아니라 {kind}이(가) 들어 있습니다. torch.save(model.state_dict(), "weights.pt")로 저장하세요.',
    ),
    "ckpterr.no_tensors": (
        "“{name}” holds no tensors by name (its keys: {keys}); cnnviz looks for a state dict at the top or under “state_dict”, “model_state_dict”, “model”.",
        "“{name}”에는 이름이 붙은 텐서가 없습니다 (키: {keys}). cnnviz는 최상위나 “state_dict”, “model_state_dict”, “model” 아래에서 state dict를 찾습니다.",
    ),
    "ckpterr.no_match": (
        "None of the {count} tensor names in “{name}” belong to {model} (the file's: {keys}; the model's: {model_keys}); it was probably saved from another architecture.",
        "“{name}”의 텐서 이름 {count}개 중 {model}에 있는 것이 하나도 없습니다 (파일: {keys}; 모델: {model_keys}). 다른 구조의 모델에서 저장한 것 같습니다.",
    ),
    "ckpterr.mismatch": (
        "The weights in “{name}” do not fit {model}: {n_missing} missing ({missing}), {n_unexpected} unexpected ({unexpected}), {n_shape} shaped differently, file ≠ model ({shapes}).",
        "“{name}”의 가중치가 {model}에 맞지 않습니다: 빠진 키 {n_missing}개 ({missing}), 모델에 없는 키 {n_unexpected}개 ({unexpected}), 모양이 다른 키 {n_shape}개, 파일 ≠ 모델 ({shapes}).",
    ),
    "ckpterr.load_failed": (
        "The weights in “{name}” could not be copied into {model} ({reason}).",
        "“{name}”의 가중치를 {model}에 복사할 수 없습니다 ({reason}).",
    ),
    "ckpterr.labels_empty": (
        "The labels file “{name}” names no classes.",
        "레이블 파일 “{name}”에 클래스 이름이 하나도 없습니다.",
    ),
    "ckpterr.labels_too_large": (
        "“{name}” is {size_mb:.1f} MB; a labels file may have at most {limit_mb:.1f} MB.",
        "“{name}”은(는) {size_mb:.1f} MB입니다. 레이블 파일은 최대 {limit_mb:.1f} MB까지 읽을 수 있습니다.",
    ),
    "ckpterr.labels_not_text": (
        "The labels file “{name}” is not UTF-8 text.",
        "레이블 파일 “{name}”은(는) UTF-8 텍스트가 아닙니다.",
    ),
    "ckpterr.labels_bad_json": (
        "The labels file “{name}” is not valid JSON ({reason}); use a JSON list of class names, or one name per line.",
        "레이블 파일 “{name}”은(는) 올바른 JSON이 아닙니다 ({reason}). 클래스 이름의 JSON 리스트나, 한 줄에 이름 하나씩 쓴 텍스트를 사용하세요.",
    ),
    "ckpterr.labels_json_type": (
        "The labels file “{name}” holds a JSON {found}; it must be a JSON list of class names (strings).",
        "레이블 파일 “{name}”에는 JSON {found}이(가) 들어 있습니다. 클래스 이름(문자열)의 JSON 리스트여야 합니다.",
    ),
    "ckpterr.labels_item": (
        "Entry {index} of the labels list in “{name}” is a JSON {found}, not a class name.",
        "“{name}”의 레이블 리스트 {index}번 항목은 클래스 이름이 아니라 JSON {found}입니다.",
    ),
}
