"""English number words as the tacotron cleaner writes them (``inflect``'s wording, no library).

``inflect.number_to_words`` separates thousands groups with commas ("twelve thousand, three
hundred forty-five"); those commas reach the grapheme-to-phoneme step and become ``<blank>``
tokens in VSSFlow's phoneme ids, so they are reproduced here. Years between 1000 and 3000 are
read in pairs ("nineteen eighty-four", "nineteen oh five"), as the tacotron cleaner does.
"""

from __future__ import annotations

import re

_UNITS = "zero one two three four five six seven eight nine".split()  # noqa: SIM905
_TEENS = (
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()  # noqa: SIM905
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()  # noqa: SIM905
_GROUPS = ["", " thousand", " million", " billion", " trillion", " quadrillion"]
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_hundred(n: int) -> str:
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _UNITS[n % 10])


def _below_thousand(n: int, andword: str) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_hundred(rest)
    words = f"{_UNITS[hundreds]} hundred"
    if rest:
        words += f" {andword} " if andword else " "
        words += _below_hundred(rest)
    return words


def number_words(n: int, andword: str = "") -> str:
    """``inflect.number_to_words(n, andword=andword)`` for 0 <= n < 10**18."""
    if n == 0:
        return "zero"
    if n >= 10 ** (3 * len(_GROUPS)):
        return " ".join(_UNITS[int(d)] for d in str(n))
    parts = []
    for index in range(len(_GROUPS) - 1, 0, -1):
        group = n // 10 ** (3 * index) % 1000
        if group:
            parts.append(_below_thousand(group, andword) + _GROUPS[index])
    words, last = ", ".join(parts), n % 1000
    if not last:
        return words
    if not words:
        return _below_thousand(last, andword)
    # A last group below one hundred joins without a comma ("one thousand and one").
    joint = ", " if last >= 100 else (f" {andword} " if andword else " ")
    return words + joint + _below_thousand(last, andword)


def year_words(n: int) -> str:
    """The tacotron cleaner's reading of 1000 < n < 3000."""
    if n == 2000:
        return "two thousand"
    if 2000 < n < 2010:
        return "two thousand " + number_words(n % 100)
    if n % 100 == 0:
        return number_words(n // 100) + " hundred"
    high, low = divmod(n, 100)
    return _below_hundred(high) + " " + (f"oh {_UNITS[low]}" if low < 10 else _below_hundred(low))


def ordinal_words(n: int) -> str:
    """``inflect.number_to_words("21st")``: "twenty-first" (with "and" after hundreds)."""
    words = number_words(n, andword="and")
    head, last = re.match(r"(.*?)([a-z]+)$", words).groups()  # type: ignore[union-attr]
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + last


def _dollars(match: re.Match[str]) -> str:
    parts = match.group(1).split(".")
    if len(parts) > 2:
        return match.group(1) + " dollars"
    dollars = int(parts[0]) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    named = []
    if dollars:
        named.append(f"{dollars} {'dollar' if dollars == 1 else 'dollars'}")
    if cents:
        named.append(f"{cents} {'cent' if cents == 1 else 'cents'}")
    return ", ".join(named) if named else "zero dollars"


def _number(match: re.Match[str]) -> str:
    n = int(match.group(0))
    return year_words(n) if 1000 < n < 3000 else number_words(n)


def expand_numbers(text: str) -> str:
    """Commas in numbers dropped, pounds, dollars, decimals, ordinals and numbers in words."""
    text = re.sub(r"([0-9][0-9,]+[0-9])", lambda m: m.group(1).replace(",", ""), text)
    text = re.sub(r"£([0-9,]*[0-9]+)", r"\1 pounds", text)
    text = re.sub(r"\$([0-9.,]*[0-9]+)", _dollars, text)
    text = re.sub(r"([0-9]+\.[0-9]+)", lambda m: m.group(1).replace(".", " point "), text)
    text = re.sub(r"[0-9]+(st|nd|rd|th)", lambda m: ordinal_words(int(m.group(0)[:-2])), text)
    return re.sub(r"[0-9]+", _number, text)


__all__ = ["expand_numbers", "number_words", "ordinal_words", "year_words"]
