import json

import numpy as np
import pytest

from minigan import report


def test_mean_sd_is_the_sample_standard_deviation():
    assert report.mean_sd([1.0, 2.0, 3.0]) == "2 ± 1 (n=3)"
    assert report.mean_sd([0.5]) == "0.5 (n=1)"
    with pytest.raises(ValueError, match="values is empty"):
        report.mean_sd([])


def test_markdown_table_formats_cells_and_refuses_ragged_rows():
    lines = report.markdown_table(["model", "nats"], [["VAE", 109.4567], ["baseline", 210]])
    assert lines == ["| model | nats |", "|---|---|", "| VAE | 109.5 |", "| baseline | 210 |"]
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        report.markdown_table(["a", "b"], [["x"]])


def test_report_writes_markdown_and_json_with_every_number(tmp_path, capsys):
    rep = report.Report("Demo", str(tmp_path), command="python demos/x.py --quick")
    rep.settings(epochs=2, lr=1e-3)
    rep.table("Results", ["model", "accuracy"], [["ours", 0.91234], ["baseline", 0.1]], note="chance is 0.1")
    rep.figure("samples.png", "samples")
    rep.save(results={"accuracy": np.float32(0.5), "curve": np.arange(3)})
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# Demo\n") and "`python demos/x.py --quick`" in text
    assert "| ours | 0.9123 |" in text and "chance is 0.1" in text and "![samples](samples.png)" in text
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["settings"] == {"epochs": 2, "lr": 1e-3}
    assert data["tables"]["Results"]["rows"][0] == ["ours", 0.91234]
    assert data["results"] == {"accuracy": 0.5, "curve": [0, 1, 2]}
    assert "# Demo" in capsys.readouterr().out
