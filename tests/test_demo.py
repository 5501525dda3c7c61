"""``make demo``'s script: three runs and an index page; a second run reuses them untouched."""

from dgm.demo import main
from helpers import folder_fingerprint


def test_demo_writes_three_runs_and_an_index_then_reuses_them(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--seconds", "1"]) == 0
    index = (tmp_path / "index.html").read_text()
    for model in ("vae", "gan", "pixelcnn"):
        assert (tmp_path / model / "report.html").exists()
        assert f"{model} on digits" in index
    assert "nll_nats" in index and "mmd2" in index
    before = {model: folder_fingerprint(tmp_path / model) for model in ("vae", "gan", "pixelcnn")}
    assert main(["--out", str(tmp_path), "--seconds", "1"]) == 0
    assert "reusing the finished run" in capsys.readouterr().out
    assert {model: folder_fingerprint(tmp_path / model) for model in ("vae", "gan", "pixelcnn")} == before
