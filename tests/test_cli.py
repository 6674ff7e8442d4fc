"""Tests of the `ganutils` command line, run in subprocesses as a user would."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ganutils import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAIN_OUTPUTS = (
    "samples/epoch_001.png",
    "history.csv",
    "history.png",
    "samples.gif",
    "generator.keras",
    "gan.keras",
    "final_grid.png",
    "run.json",
)
FINAL_LINE = re.compile(
    r"^final d_loss=\d+\.\d+ g_loss=\d+\.\d+ after 1 epoch \| [\d,]+ images/s \| "
    r"wall time \S+ \(\d+\.\d s\) \| .+$"
)


def run_cli(*args):
    """Run `python -m ganutils ARGS` from the repository root."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "ganutils", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Train a DCGAN for 1 epoch on 256 Fashion-MNIST images (2 steps of 128)."""
    out_dir = tmp_path_factory.mktemp("cli") / "run"
    result = run_cli(
        "train", "--limit", 256, "--epochs", 1, "--base-filters", 8,
        "--num-samples", 16, "--seed", 1, "--out", out_dir,
    )  # fmt: skip
    return out_dir, result


def option_strings(command):
    parser = cli.build_parser()
    subparsers = next(
        action for action in parser._actions if action.dest == "command"
    ).choices
    return [
        option
        for action in subparsers[command]._actions
        for option in action.option_strings
    ]


@pytest.fixture(scope="module")
def help_texts():
    """The `--help` output of each subcommand, from a subprocess."""
    texts = {}
    for command in ("train", "sample"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        texts[command] = result.stdout
    return texts


@pytest.mark.parametrize("command", ["train", "sample"])
def test_help_lists_every_option(help_texts, command):
    options = option_strings(command)
    assert "--out" in options
    for option in options:
        assert option in help_texts[command], (
            f"{option} missing from '{command} --help'"
        )


def test_help_states_units(help_texts):
    text = " ".join(help_texts["train"].split())
    assert "passes over the training images" in text
    assert "real images per step" in text
    assert "first N images" in text


def test_train_writes_every_output(tiny_run):
    out_dir, result = tiny_run
    assert result.returncode == 0, result.stderr
    for name in TRAIN_OUTPUTS:
        assert (out_dir / name).is_file(), f"{name} was not written"
    assert not (out_dir / "samples" / "epoch_002.png").exists()


def test_train_prints_one_final_line(tiny_run):
    _, result = tiny_run
    assert FINAL_LINE.match(last_line(result.stdout)), result.stdout
    assert sum(line.startswith("final ") for line in result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_train_history_has_one_row_per_epoch(tiny_run):
    out_dir, _ = tiny_run
    lines = (out_dir / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,seconds,d_fake,d_loss,d_real,g_loss"
    assert len(lines) == 2
    assert lines[1].startswith("1,")


def test_train_final_grid_size(tiny_run):
    out_dir, _ = tiny_run
    # 16 images of 28 x 28 in rows of 8, with 2 pixels of padding.
    with Image.open(out_dir / "final_grid.png") as image:
        assert image.size == (8 * 30 + 2, 2 * 30 + 2)


def test_train_rejects_non_empty_out(tiny_run):
    out_dir, _ = tiny_run
    model_bytes = (out_dir / "generator.keras").read_bytes()
    result = run_cli("train", "--limit", 256, "--epochs", 1, "--out", out_dir)
    assert result.returncode == 2
    assert "--overwrite" in last_line(result.stderr)
    assert "Traceback" not in result.stderr
    assert (out_dir / "generator.keras").read_bytes() == model_bytes


def test_sample_from_generator_writes_png(tiny_run, tmp_path):
    out_dir, _ = tiny_run
    out_path = tmp_path / "grids" / "grid.png"
    result = run_cli(
        "sample", out_dir / "generator.keras", "--n", 12, "--ncols", 4,
        "--seed", 5, "--out", out_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(out_path) as image:
        assert image.format == "PNG"
        assert image.size == (4 * 30 + 2, 3 * 30 + 2)


def test_sample_from_gan_matches_generator(tiny_run, tmp_path):
    # generator.keras contains the generator that the GAN samples from (the moving
    # average, on by default), and both draw z from the same seeded NumPy
    # generator.
    out_dir, _ = tiny_run
    from_gan = tmp_path / "gan.png"
    from_generator = tmp_path / "generator.png"
    assert run_cli("sample", out_dir / "gan.keras", "--out", from_gan).returncode == 0
    result = run_cli("sample", out_dir / "generator.keras", "--out", from_generator)
    assert result.returncode == 0
    assert from_gan.read_bytes() == from_generator.read_bytes()


def test_sample_truncation_same_for_gan_and_generator(tiny_run, tmp_path):
    out_dir, _ = tiny_run
    grids = {}
    for model, truncation in [("gan", "0.5"), ("generator", "0.5"), ("gan", "1")]:
        grids[model, truncation] = tmp_path / f"{model}_{truncation}.png"
        result = run_cli(
            "sample", out_dir / f"{model}.keras", "--truncation", truncation,
            "--out", grids[model, truncation],
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    truncated = grids["gan", "0.5"].read_bytes()
    assert truncated == grids["generator", "0.5"].read_bytes()
    assert truncated != grids["gan", "1"].read_bytes()


def test_sample_missing_model_exits_2(tmp_path):
    missing = tmp_path / "missing.keras"
    result = run_cli("sample", missing, "--out", tmp_path / "grid.png")
    assert result.returncode == 2
    assert (
        last_line(result.stderr)
        == f"ganutils sample: error: model file not found: {missing}"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "grid.png").exists()


def test_sample_not_a_model_exits_2(tmp_path):
    not_a_model = tmp_path / "history.csv"
    not_a_model.write_text("epoch,d_loss\n1,0.5\n")
    result = run_cli("sample", not_a_model)
    assert result.returncode == 2
    assert ".keras" in last_line(result.stderr)


def run_main(argv, capsys):
    """Run `cli.main` in this process; return the exit code and stderr."""
    try:
        exit_code = cli.main(argv)
    except SystemExit as exit:
        exit_code = exit.code
    return exit_code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected_message"),
    [
        (["train", "--epochs", "0", "--out", "x"], "--epochs: expected an integer"),
        (["train", "--epochs", "ten", "--out", "x"], "received 'ten'"),
        (["train", "--model", "gpt", "--out", "x"], "invalid choice: 'gpt'"),
        (["train", "--epochs", "1"], "--out"),
        (["sample", "m.keras", "--n", "-3"], "--n: expected an integer >= 1"),
        (["sample", "m.keras", "--truncation", "0"], "--truncation: expected a number"),
        (["sample", "m.keras", "--truncation", "inf"], "received inf"),
        (["sample", "m.keras", "--truncation", "1e39"], "received 1e+39"),
        (["train", "--d-lr", "inf", "--out", "x"], "--d-lr: expected a learning rate"),
        (["train", "--g-lr", "1e39", "--out", "x"], "in (0, 1], received 1e+39"),
        (["train", "--g-lr", "0", "--out", "x"], "in (0, 1], received 0.0"),
    ],
)
def test_bad_arguments_exit_2(argv, expected_message, capsys):
    exit_code, stderr = run_main(argv, capsys)
    assert exit_code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(f"ganutils {argv[0]}: error:")
    assert expected_message in stderr


def test_train_batch_larger_than_limit_exits_2(tmp_path, capsys):
    out_dir = tmp_path / "run"
    argv = ["train", "--limit", "50", "--batch-size", "64", "--out", str(out_dir)]
    exit_code, stderr = run_main(argv, capsys)
    assert exit_code == 2
    assert "--batch-size 64 is larger than the number of training images (50)" in stderr
    assert not out_dir.exists()


def test_train_mlp_base_filters_exits_2(tmp_path, capsys):
    argv = ["train", "--model", "mlp", "--base-filters", "8", "--out", str(tmp_path)]
    exit_code, stderr = run_main(argv, capsys)
    assert exit_code == 2
    assert "--base-filters applies to --model dcgan only" in stderr


def test_max_truncation_matches_gan_module():
    from ganutils.gan import MAX_TRUNCATION

    assert cli.MAX_TRUNCATION == MAX_TRUNCATION


def test_loss_names_match_losses_module():
    from ganutils.losses import LOSSES

    assert cli.LOSS_NAMES == tuple(sorted(LOSSES))


def build_train_gan(*options):
    """Parse `train` options as the CLI does and build its GAN (base_filters 8)."""
    args = cli.build_parser().parse_args(["train", "--out", "unused", *options])
    args.base_filters = 8
    return cli._build_gan(args, (28, 28, 1))


def test_train_default_samples_from_moving_average():
    gan = build_train_gan()
    assert gan.ema_decay == cli.DEFAULT_EMA_DECAY
    assert gan.ema_generator is not None
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(
        cli.DEFAULT_LEARNING_RATE
    )
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(
        cli.DEFAULT_LEARNING_RATE
    )


def test_train_ema_decay_zero_switches_average_off():
    gan = build_train_gan("--ema-decay", "0")
    assert gan.ema_decay is None
    assert gan.ema_generator is None


def test_train_run_json_records_ema_decay(tiny_run):
    out_dir, _ = tiny_run
    options = json.loads((out_dir / "run.json").read_text())["options"]
    assert options["ema_decay"] == cli.DEFAULT_EMA_DECAY
