"""The rough edges of ``edge-app`` (issue 16): version, global options after the command,
read-only commands on a missing library, a file as data dir, broken pipes, import reports,
and the serve banner on a terminal (a real pty) vs. JSON logs on a pipe."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_app.cli.main import EXIT_BROKEN_PIPE, EXIT_CONFIG, EXIT_OK, main
from edge_app.settings import Settings

EDGE_APP = str(Path(sys.executable).with_name("edge-app"))
Shapes = list[tuple[Path, object]]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("edge-app ")


@pytest.mark.parametrize("command", ["search", "duplicates", "status"])
def test_read_only_commands_refuse_a_data_dir_without_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    typo = tmp_path / "dtaa"
    extra = ["a dog"] if command == "search" else []
    code, out, err = _run(capsys, "--data-dir", str(typo), command, *extra)
    assert code == EXIT_CONFIG and out == ""
    assert f"no library in {typo}" in err and "edge-app index" in err
    assert "Traceback" not in err
    assert not typo.exists()  # nothing was created


def test_global_options_work_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    Settings(data_dir=data).ensure_dirs()
    from edge_app.library.store import Library

    Library(Settings(data_dir=data).db_path).close()
    code, out, _ = _run(capsys, "status", "--json", "--data-dir", str(data), "-v")
    assert code == EXIT_OK and json.loads(out)["data_dir"] == str(data)
    # given before the command, not undone by the (absent) option after it
    code, out, _ = _run(capsys, "--data-dir", str(data), "status", "--json")
    assert code == EXIT_OK and json.loads(out)["data_dir"] == str(data)


def test_relative_data_dir_is_made_absolute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "--data-dir", "rel", "status")
    assert code == EXIT_CONFIG and str(tmp_path / "rel") in err


def test_a_file_as_data_dir_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("hello")
    for command in (["status"], ["index"], ["search", "x"]):
        code, _, err = _run(capsys, "--data-dir", str(afile), *command)
        assert code == EXIT_CONFIG and "is a file, not a folder" in err, command
        assert "Traceback" not in err


def _library_with_photos(root: Path, shapes: Shapes, bundle: Path) -> Path:
    data = root / "data"
    (data / "library").mkdir(parents=True)
    for src, _ in shapes[:4]:
        shutil.copy2(src, data / "library" / src.name)
    assert main(["--data-dir", str(data), "--bundle", str(bundle), "index"]) == EXIT_OK
    return data


def test_broken_pipe_exits_quietly(
    tmp_path: Path, shapes_photos: Shapes, tiny_bundle: Path
) -> None:
    data = _library_with_photos(tmp_path, shapes_photos, tiny_bundle)
    argv = [EDGE_APP, "--data-dir", str(data), "--bundle", str(tiny_bundle)]
    proc = subprocess.Popen(
        [*argv, "search", "a red circle", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that already exited: every write fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err


def test_import_reports_copies_duplicates_and_skips(
    tmp_path: Path, shapes_photos: Shapes, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "stick"
    source.mkdir()
    for src, _ in shapes_photos[:3]:
        shutil.copy2(src, source / src.name)
    (source / "broken.jpg").write_bytes(b"not a jpeg at all")
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(tiny_bundle)]
    code, out, _ = _run(capsys, *base, "import", str(source))
    assert code == EXIT_OK
    assert "4 found, 4 copied, 0 duplicate(s) skipped, 0 failed" in out
    assert "copied, not indexed: imports/" in out and "broken.jpg: not an image" in out
    assert f"copied to {tmp_path / 'data' / 'library' / 'imports'}" in out
    shutil.copy2(shapes_photos[0][0], source / "again.jpg")
    code, out, _ = _run(capsys, *base, "import", str(source))
    assert code == EXIT_OK and "1 copied" not in out
    assert "not copied: again.jpg: already in the library" in out


def test_import_of_a_folder_without_photos_says_so(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "empty"
    source.mkdir()
    (source / "readme.txt").write_text("no photos here")
    base = ["--data-dir", str(tmp_path / "data"), "--bundle", str(tiny_bundle)]
    code, out, _ = _run(capsys, *base, "import", str(source))
    assert code == EXIT_OK
    assert "0 found, 0 copied" in out and "no photos found there" in out


def test_a_fresh_data_dir_rebuilds_the_index_at_info(
    tmp_path: Path, tiny_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from edge_app.context import AppContext

    caplog.set_level(logging.INFO, logger="edge_app.search.index_store")
    settings = Settings(
        data_dir=tmp_path / "d", bundle_dir=tiny_bundle, backend_prefer="onnxruntime"
    )
    AppContext.open(settings).close()
    records = [r for r in caplog.records if r.name == "edge_app.search.index_store"]
    assert any("rebuild" in r.getMessage() for r in records)
    assert all(r.levelno == logging.INFO for r in records), [r.getMessage() for r in records]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pty closed: the process ended
                break
            seen += chunk
    return seen


def _serve_argv(tmp_path: Path, bundle: Path) -> list[str]:
    return [
        EDGE_APP, "--data-dir", str(tmp_path / "data"), "--bundle", str(bundle),
        "serve", "--host", "127.0.0.1", "--port", str(_free_port()),
    ]  # fmt: skip


def test_serve_on_a_terminal_prints_a_banner(tmp_path: Path, tiny_bundle: Path) -> None:
    argv = _serve_argv(tmp_path, tiny_bundle)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(follower)
    try:
        text = _read_until(leader, b"stop with Ctrl+C", timeout=120).decode(errors="replace")
    finally:
        alive = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        os.close(leader)
    assert proc.stderr is not None
    # On a miss, say what the daemon did instead: still starting (alive) or exited, and why.
    assert "stop with Ctrl+C" in text, (alive, code, text, proc.stderr.read()[-4000:])
    assert f"web UI: https://127.0.0.1:{argv[-1]}/" in text
    assert "TLS:    certificate SHA-256 " in text  # the fingerprint to compare on first visit
    token = (tmp_path / "data" / "setup_token").read_text().strip()
    assert f"setup token {token}" in text
    assert "logs:   warnings on stderr" in text
    assert not any(line.lstrip().startswith("{") for line in text.splitlines())
    assert code == 0


def test_serve_on_a_pipe_logs_json(tmp_path: Path, tiny_bundle: Path) -> None:
    proc = subprocess.Popen(
        _serve_argv(tmp_path, tiny_bundle), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    lines = []
    try:
        for raw in proc.stdout:
            lines.append(json.loads(raw))  # every stdout line is JSON: no banner
            if "event=listening" in lines[-1]["msg"]:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    assert any("setup_token=" in entry["msg"] for entry in lines)


def test_demo_output_is_clean(tmp_path: Path, toy_bundle: Path) -> None:
    """What `./scripts/demo` shows (bundle prebuilt here): results, no warnings or noise."""
    argv = [EDGE_APP, "--data-dir", str(tmp_path / "d"), "--bundle", str(toy_bundle)]
    done = subprocess.run(
        [*argv, "demo", "--no-serve"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert 'search "a red circle":' in done.stdout
    assert done.stderr == ""
    assert "warning" not in done.stdout.lower()


def test_an_unusable_data_dir_path_is_one_line_not_a_traceback(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("hello")
    inside_a_file = afile / "data"
    code, _, err = _run(
        capsys, "--data-dir", str(inside_a_file), "--bundle", str(tiny_bundle), "index"
    )
    assert code == 1 and "Not a directory" in err and str(inside_a_file) in err
    assert err.count("\n") == 1 and "Traceback" not in err
