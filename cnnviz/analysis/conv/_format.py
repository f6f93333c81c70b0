"""Numbers and indices written the way the lecture's slides write them: i₀₀, w⁰₀₁, −1 (not -1), no "−0"."""

from __future__ import annotations

__all__: list[str] = []  # private helpers of the package

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sub(*indices: int) -> str:
    # i₀₀ reads well; with a two-digit index, i₁₂₃ would not, so separate with a comma then.
    sep = "," if any(v >= 10 for v in indices) else ""
    return sep.join(str(v) for v in indices).translate(_SUB)


def _num(value: float, digits: int) -> str:
    v = round(float(value), digits)
    if v == 0:
        v = 0.0  # no "−0"
    text = f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits > 0 else f"{v:.0f}"
    return text.replace("-", "−")


def _factor(value: float, digits: int) -> str:
    text = _num(value, digits)
    return f"({text})" if text.startswith("−") else text


def _join(terms: list[str], max_terms: int | None) -> str:
    if max_terms is not None and len(terms) > max_terms >= 2:
        terms = [*terms[: max_terms - 1], "…", terms[-1]]
    return " + ".join(terms)


def _sup(index: int) -> str:
    # the channel of a term, written above: i⁰₀₀ is channel 0's i₀₀
    return str(index).translate(_SUP)
