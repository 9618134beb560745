"""The coupon pool form, with an optional file of unique codes to add."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from conductor.models import Coupon, CouponKind, CouponPool

MAX_CODE_LENGTH = cast(int, Coupon._meta.get_field("code").max_length)  # a CharField's is set
MAX_LINE_ERRORS = 20  # a wrong file has thousands of bad lines; the first ones say why
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass
class CodeFile:
    """The codes of an upload, each once, and the repeats left out."""

    codes: dict[str, dt.date | None] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)


def read_code_file(data: bytes) -> CodeFile:
    """Codes from a text/CSV file: ``CODE`` or ``CODE,YYYY-MM-DD`` per line.
    Blank lines are ignored, a code repeated in the file is kept once and
    reported; a ValidationError names every bad line (up to 20)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError("The file is not UTF-8 text.") from error
    result, problems = CodeFile(), []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() == "code":
            continue  # a header line
        problem = _row_problem(cells)
        if problem:
            problems.append(f"Line {number}: {problem}")
            continue
        code = cells[0]
        expires = dt.date.fromisoformat(cells[1]) if len(cells) > 1 and cells[1] else None
        if code in result.codes:
            result.repeated.append(code)
        else:
            result.codes[code] = expires
    if problems:
        shown = problems[:MAX_LINE_ERRORS]
        if len(problems) > MAX_LINE_ERRORS:
            shown.append(f"… and {len(problems) - MAX_LINE_ERRORS} more bad lines.")
        raise ValidationError(shown)
    return result


def _row_problem(cells: list[str]) -> str | None:
    if len(cells) > 2:
        return "expected CODE or CODE,YYYY-MM-DD."
    if not cells[0]:
        return "the code is blank."
    if len(cells[0]) > MAX_CODE_LENGTH:
        return f"the code is longer than {MAX_CODE_LENGTH} characters."
    if len(cells) == 2 and cells[1]:
        try:
            if not _DATE.match(cells[1]):
                raise ValueError
            dt.date.fromisoformat(cells[1])
        except ValueError:
            return f"{cells[1]!r} is not an expiry date as YYYY-MM-DD."
    return None


class CouponPoolForm(forms.ModelForm):
    codes_file = forms.FileField(
        required=False,
        label="Add codes from a file",
        help_text=(
            "Unique pools: a text or CSV file, one code per line, optionally followed by "
            ",YYYY-MM-DD (its expiry). Codes already in the pool are skipped."
        ),
    )

    class Meta:
        model = CouponPool
        fields = ["list", "name", "kind", "static_code", "expiry_cutoff"]

    def clean_codes_file(self) -> CodeFile | None:
        upload = self.cleaned_data.get("codes_file")
        if not upload:
            return None
        return read_code_file(upload.read())

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns its cleaned_data
        cleaned = self.cleaned_data
        if cleaned.get("codes_file") and cleaned.get("kind") == CouponKind.STATIC:
            self.add_error("codes_file", "A static pool has one code (its static code), no file.")
        return cleaned
