"""Issue 14, defect 6: errors name their place — non-UTF-8 bytes in a target list or vocabulary
name the file and line, a checkpoint with an unknown config key names the checkpoint and the key,
a failing notebook names the notebook."""
import dataclasses

import nbformat
import pytest
import torch

from ntlib.data import dataset as D
from ntlib.run.config import DataConfig, ModelConfig
from ntlib.data.targets import load_targets
from ntlib.methods.models import build_model
from ntlib.methods.train import load_model, save_model


def test_non_utf8_target_list_names_file_and_line(tmp_path):
    p = tmp_path / "targets.txt"
    p.write_bytes(b"you are stupid\ni hate you\nshut up caf\xe9\n")
    with pytest.warns(UserWarning, match="not verified"):
        with pytest.raises(D.DataError, match=r"targets\.txt:3: not UTF-8"):
            load_targets("test", D.Vocab(["you"]), path=p, max_len=20)


def test_non_utf8_vocabulary_names_file_and_line(tmp_path):
    p = tmp_path / "vocab.txt"
    p.write_bytes(b"i\nyou\n\xff\xfe\n")
    with pytest.raises(D.DataError, match=r"vocab\.txt:3: not UTF-8"):
        D.Vocab.from_file(p)
    with pytest.warns(UserWarning, match="not verified"), pytest.raises(D.DataError, match=r"vocab\.txt:3"):
        D.build_vocab(D.Corpus("toy", [], [], []), DataConfig(vocab_file=str(p)))


def _checkpoint(tmp_path, **config_changes):
    model = build_model("lm", 12, ModelConfig(emb=4, hidden=6, dropout=0.0))
    path = tmp_path / "lm.pt"
    save_model(model, "lm", path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"] = {**dataclasses.asdict(model.cfg), **config_changes}
    torch.save(ckpt, path)
    return path


def test_checkpoint_with_unknown_config_key_names_path_and_key(tmp_path):
    path = _checkpoint(tmp_path, attention=True)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint config has unknown key\(s\) \['attention'\]"):
        load_model(path)


def test_checkpoint_with_bad_config_value_names_path_and_field(tmp_path):
    path = _checkpoint(tmp_path, hidden=-6)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint config: ModelConfig.hidden = -6"):
        load_model(path)


def test_failing_notebook_is_named(tmp_path):
    pytest.importorskip("papermill")
    from ntlib.run.reproduce import StageError, execute
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise KeyError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "07_broken.ipynb")
    with pytest.raises(StageError, match=r"07_broken\.ipynb failed: KeyError: 'boom' \(cell \[3\] of the executed notebook .*out\.ipynb"):
        execute(tmp_path / "07_broken.ipynb", tmp_path / "out.ipynb", {"x": 2}, tmp_path)


def test_checkpoint_without_a_config_field_or_its_weights_names_the_path(tmp_path):
    """Issue 27: a checkpoint missing `hidden` silently became 600, an edited vocab_size gave a size-mismatch
    RuntimeError without the path, no state_dict a KeyError."""
    path = _checkpoint(tmp_path)
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["hidden"]
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint config has no hidden"):
        load_model(path)
    path = _checkpoint(tmp_path)
    ckpt = torch.load(path, weights_only=True)
    torch.save({**ckpt, "vocab_size": 13}, path)
    with pytest.raises(ValueError, match=rf"{path}: the weights do not fit .*vocab_size 13.*size mismatch"):
        load_model(path)
    torch.save({k: v for k, v in ckpt.items() if k != "state_dict"}, path)
    with pytest.raises(ValueError, match=rf"{path}: checkpoint has no state_dict"):
        load_model(path)
