"""The editor's segment counter (static/gsm.js) agrees with dripper/gsm.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dripper import gsm

GSM_JS = Path(__file__).resolve().parents[2] / "dripper" / "admin" / "static" / "gsm.js"
CASES = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "{braces} and [brackets] cost two",
    "€" * 80,
    "It’s “quoted” — and so on…",
    "é" * 70 + "ê",
    "x" * 69 + "’",
    "emoji 🙂 counts as two units",
    "line\nbreaks\r\nand tabs\t",
    "ÄÖÑÜ§¿äöñüà ΔΦΓΛΩΠΨΣΘΞ",
    "façade naïve café",
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_browser_counter_and_the_server_agree_on_every_case() -> None:
    script = (
        GSM_JS.read_text(encoding="utf-8")
        + "\nconst cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        + "\nconsole.log(JSON.stringify(cases.map(t => ({seg: globalThis.DripperGSM.countSegments(t),"
        + " off: globalThis.DripperGSM.offenders(t).map(o => [o.char, o.index, o.replacement]),"
        + " fixed: globalThis.DripperGSM.toGsm7(t)}))));"
    )
    out = subprocess.run(
        ["node", "-e", script], input=json.dumps(CASES), capture_output=True, text=True, check=True
    ).stdout
    for text, js in zip(CASES, json.loads(out), strict=True):
        expected = gsm.count_segments(text)
        assert js["seg"] == {
            "encoding": expected.encoding,
            "units": expected.units,
            "segments": expected.segments,
        }, text
        assert [tuple(o) for o in js["off"]] == [
            (o.char, o.index, o.replacement) for o in gsm.non_gsm7(text)
        ], text
        assert js["fixed"] == gsm.to_gsm7(text), text
