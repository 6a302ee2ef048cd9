"""`aggregator send-test` against real receivers, and the shipped systemd unit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.cli import main
from tests.conftest import ConfigMaker
from tests.helpers.alerting import SECRET_ENV, channels_toml
from tests.helpers.receivers import SmtpServer, WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]


def test_send_test_delivers_a_signed_sample(
    webhook_receiver: WebhookReceiver,
    smtp_server: SmtpServer,
    make_config: ConfigMaker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert webhook_receiver.secret is not None
    monkeypatch.setenv(SECRET_ENV, webhook_receiver.secret)
    config = make_config(extra=channels_toml(webhook_receiver, smtp_server))
    assert main(["send-test", "hook", "--config", str(config)]) == 0
    assert "delivered a test alert to hook" in capsys.readouterr().out
    ((webhook_id, body),) = webhook_receiver.deliveries
    assert body["id"] == webhook_id and "[TEST]" in body["story"]["title"]
    assert main(["send-test", "mail", "--config", str(config)]) == 0
    assert "[TEST]" in smtp_server.messages[0].message["Subject"]


def test_send_test_reports_a_failure(
    webhook_receiver: WebhookReceiver,
    make_config: ConfigMaker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert webhook_receiver.secret is not None
    monkeypatch.setenv(SECRET_ENV, webhook_receiver.secret)
    webhook_receiver.answer(500)
    config = make_config(extra=channels_toml(webhook_receiver, None))
    assert main(["send-test", "hook", "--config", str(config)]) == 1
    assert "NOT delivered to hook: " in capsys.readouterr().out
    assert main(["send-test", "nope", "--config", str(config)]) == 2


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "check", "--config", str(ROOT / "config")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "config OK" in done.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", ["aggregator.service", "aggregator@.service"])
def test_systemd_unit_verifies(name: str, tmp_path: Path) -> None:
    unit = (ROOT / "systemd" / name).read_text()
    executable = shutil.which("aggregator") or str(Path(sys.executable).parent / "aggregator")
    assert "ExecStart=/opt/aggregator/.venv/bin/aggregator run" in unit
    local = tmp_path / name
    local.write_text(unit.replace("/opt/aggregator/.venv/bin/aggregator", executable))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in done.stderr.splitlines() if name in line]
    assert done.returncode == 0 and problems == [], done.stderr
