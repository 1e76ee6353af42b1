"""A mapping's format is tried on a text cell when the mapping is loaded, not on first use."""

from __future__ import annotations

import pytest

from resorb.errors import ConfigError
from resorb.intake import apply_mapping, parse_mapping
from tests.factories import baseline_rows


@pytest.mark.parametrize(("fmt", "message"), [
    ("{:d}", "Unknown format code 'd'"),
    ("P{:.2f}", "Unknown format code 'f'"),
    ("{:,}", "Cannot specify ','"),
    ("{:%Y}", "Invalid format specifier"),
    ("{!z}", "Unknown conversion specifier z"),
    ("{:=5}", "'=' alignment not allowed"),
])
def test_a_format_that_cannot_format_text_is_refused_on_load(fmt, message):
    with pytest.raises(ConfigError) as info:
        parse_mapping({"columns": {"patient_id": {"from": "P", "format": fmt}}})
    text = str(info.value)
    assert "'columns.patient_id' has format" in text and message in text
    assert "cells are formatted as text: use a plain '{}'" in text


@pytest.mark.parametrize(("fmt", "cell", "out"), [
    ("SPIDER-{}", "7", "SPIDER-7"),
    ("{:>4}", "7", "   7"),
    ("{:_<3}", "7", "7__"),
    ("P-{!r}", "7", "P-'7'"),
    ("{{{}}}", "7", "{7}"),
])
def test_a_text_format_works_as_it_was_checked(fmt, cell, out):
    mapping = parse_mapping({"columns": {"patient_id": {"from": "P", "format": fmt}}})
    raw = baseline_rows(1).assign(P=cell)
    assert apply_mapping(raw, mapping).frame["patient_id"].tolist() == [out]
