"""project_flavour(): the Keras flavour a project's dependency files pin."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnlint.flavour import Flavour
from bnlint.pins import project_flavour


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _requirements(tmp_path: Path, *lines: str) -> Flavour | None:
    _write(tmp_path, "requirements.txt", "\n".join(lines) + "\n")
    return project_flavour(str(tmp_path))


# --- the decision ---------------------------------------------------------------------


def test_nothing_pinned_is_none(tmp_path: Path) -> None:
    assert project_flavour(str(tmp_path)) is None
    assert _requirements(tmp_path, "numpy==1.26", "keras", "tensorflow") is None


def test_exact_keras3_pin_gives_version_and_reason(tmp_path: Path) -> None:
    assert _requirements(tmp_path, "keras==3.8.0") == Flavour(
        "keras3", (3, 8, 0), "keras==3.8.0 in requirements.txt")


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("keras>=3.0", None),
        ("keras<3.16,>=3.10", None),
        ("keras~=3.4", None),  # 3.4 <= v < 4: the minor is only a lower bound
        ("keras~=3.4.1", (3, 4)),  # 3.4.1 <= v < 3.5: the minor is fixed
        ("keras==3.8.*", (3, 8)),
        ("keras==3.*", None),
        ("keras[jax]==3.5.0 ; python_version >= '3.10'  # the backend extra", (3, 5, 0)),
    ],
)
def test_keras3_pins_report_a_version_only_when_fixed(
    tmp_path: Path, line: str, version: tuple[int, ...] | None
) -> None:
    flavour = _requirements(tmp_path, line)
    assert flavour is not None
    assert (flavour.name, flavour.version) == ("keras3", version)


def test_installing_tf_keras_beside_keras3_leaves_keras3(tmp_path: Path) -> None:
    # from TensorFlow 2.16 on, `tf.keras` is tf-keras only with TF_USE_LEGACY_KERAS=1,
    # which a file that sets it says itself; `import keras` is Keras 3 regardless
    flavour = _requirements(tmp_path, "keras==3.8.0", "tf_keras==2.17.0")
    assert flavour == Flavour("keras3", (3, 8, 0), "keras==3.8.0 in requirements.txt")


@pytest.mark.parametrize("lines", [("tf-keras",), ("tensorflow", "tf-keras"),
                                   ("tensorflow>=2.16", "tf-keras==2.17.0")])
def test_tf_keras_installed_alone_decides_nothing(tmp_path: Path,
                                                  lines: tuple[str, ...]) -> None:
    # (installed for TensorFlow Probability or Hub as often as for legacy code)
    assert _requirements(tmp_path, *lines) is None


def test_tf_keras_beside_a_tensorflow_that_bundles_keras2_names_its_version(
        tmp_path: Path) -> None:
    assert _requirements(tmp_path, "tensorflow==2.15.0", "tf-keras==2.15.1") == Flavour(
        "tf-keras", (2, 15, 1),
        "tensorflow==2.15.0 in requirements.txt, tf-keras==2.15.1 in requirements.txt")


def test_keras2_alone_is_standalone_keras2(tmp_path: Path) -> None:
    assert _requirements(tmp_path, "keras==2.12.0") == Flavour(
        "keras2", (2, 12, 0), "keras==2.12.0 in requirements.txt")


def test_keras2_with_tensorflow_before_216_is_tf_keras(tmp_path: Path) -> None:
    flavour = _requirements(tmp_path, "keras<3", "tensorflow==2.15.1")
    assert flavour is not None
    assert flavour.name == "tf-keras"
    assert flavour.reason == "keras<3 in requirements.txt, tensorflow==2.15.1 in requirements.txt"


def test_ambiguous_keras_falls_back_to_tensorflow(tmp_path: Path) -> None:
    flavour = _requirements(tmp_path, "keras>=2.4", "tensorflow-cpu==2.13.0")
    assert flavour == Flavour("tf-keras", (2, 13, 0),
                              "tensorflow-cpu==2.13.0 in requirements.txt")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tensorflow==2.15.0", Flavour("tf-keras", (2, 15, 0))),
        ("tensorflow-gpu<2.16", Flavour("tf-keras", None)),
        ("tensorflow-macos~=2.12.0", Flavour("tf-keras", (2, 12))),
        ("tensorflow==2.16.1", Flavour("keras3", None)),
        ("tensorflow>=2.17", Flavour("keras3", None)),
        ("tensorflow==1.15.5", Flavour("tf1", (1, 15, 5))),
        ("tensorflow<2", Flavour("tf1", None)),
    ],
)
def test_tensorflow_pin_decides_the_bundled_keras(
    tmp_path: Path, line: str, expected: Flavour
) -> None:
    flavour = _requirements(tmp_path, line)
    assert flavour is not None
    assert (flavour.name, flavour.version) == (expected.name, expected.version)
    assert flavour.reason == f"{line} in requirements.txt"


@pytest.mark.parametrize("line", ["tensorflow>=2.10", "tensorflow>=1.15,<2.16", "keras>=2.0"])
def test_bounds_that_straddle_a_flavour_boundary_decide_nothing(
    tmp_path: Path, line: str
) -> None:
    assert _requirements(tmp_path, line) is None


def test_exact_pin_preferred_over_a_bound_from_an_earlier_file(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[project]\ndependencies = ["keras>=3"]\n')
    _write(tmp_path, "requirements.txt", "keras==3.10.0\n")
    flavour = project_flavour(str(tmp_path))
    assert flavour == Flavour("keras3", (3, 10, 0), "keras==3.10.0 in requirements.txt")


# --- each kind of file ----------------------------------------------------------------


def test_pyproject_project_dependencies(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml",
           '[project]\nname = "x"\ndependencies = ["numpy", "keras==3.3.3"]\n')
    assert project_flavour(str(tmp_path)) == Flavour(
        "keras3", (3, 3, 3), "keras==3.3.3 in pyproject.toml")


def test_pyproject_optional_dependencies(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml",
           '[project]\nname = "x"\n[project.optional-dependencies]\n'
           'gpu = ["tensorflow[and-cuda]==2.14.0"]\n')
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None and (flavour.name, flavour.version) == ("tf-keras", (2, 14, 0))


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ('"^3.8"', ("keras3", None)),
        ('"3.8.0"', ("keras3", (3, 8, 0))),
        ('"~3.8"', ("keras3", (3, 8))),
        ('{ version = "^2.12", optional = true }', ("keras2", None)),
    ],
)
def test_poetry_dependencies(
    tmp_path: Path, constraint: str, expected: tuple[str, tuple[int, ...] | None]
) -> None:
    _write(tmp_path, "pyproject.toml",
           f'[tool.poetry.dependencies]\npython = "^3.10"\nkeras = {constraint}\n')
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None and (flavour.name, flavour.version) == expected


def test_poetry_group_dependencies(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml",
           '[tool.poetry.group.ml.dependencies]\ntensorflow = "2.15.0"\n')
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None and flavour.name == "tf-keras"


def test_requirements_variants_and_subdirectory(tmp_path: Path) -> None:
    _write(tmp_path, "requirements/base.txt",
           "# pinned for the fine-tuning notebook\n-r common.txt\n--index-url https://x\n"
           "tensorflow==2.15.0 \\\n    --hash=sha256:abc\n")
    flavour = project_flavour(str(tmp_path))
    assert flavour == Flavour("tf-keras", (2, 15, 0),
                              "tensorflow==2.15.0 in requirements/base.txt")


def test_requirements_dev_file_is_read(tmp_path: Path) -> None:
    _write(tmp_path, "requirements-dev.txt", "keras==3.9.2  # latest\n")
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None and flavour.reason == "keras==3.9.2 in requirements-dev.txt"


def test_setup_cfg_install_requires(tmp_path: Path) -> None:
    _write(tmp_path, "setup.cfg",
           "[metadata]\nname = x\n[options]\ninstall_requires =\n    numpy\n"
           "    tensorflow>=2.16\n")
    assert project_flavour(str(tmp_path)) == Flavour(
        "keras3", None, "tensorflow>=2.16 in setup.cfg")


def test_setup_cfg_extras_require(tmp_path: Path) -> None:
    _write(tmp_path, "setup.cfg", "[options.extras_require]\ntf =\n    tensorflow==1.15\n")
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None and (flavour.name, flavour.version) == ("tf1", (1, 15))


def test_environment_yml_conda_entries(tmp_path: Path) -> None:
    _write(tmp_path, "environment.yml",
           "name: train\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n"
           "  - conda-forge::tensorflow=2.15\n  - numpy\n")
    assert project_flavour(str(tmp_path)) == Flavour(
        "tf-keras", (2, 15), "tensorflow=2.15 in environment.yml")


def test_environment_yaml_pip_section(tmp_path: Path) -> None:
    _write(tmp_path, "environment.yaml",
           "dependencies:\n- python=3.11\n- pip\n- pip:\n    - \"keras==3.6.0\"\n"
           "    - tf-nightly\nvariables:\n  - keras: 2\n")
    assert project_flavour(str(tmp_path)) == Flavour(
        "keras3", (3, 6, 0), "keras==3.6.0 in environment.yaml")


def test_environment_entries_outside_dependencies_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, "environment.yml", "name: x\nchannels:\n  - keras=3.8\n")
    assert project_flavour(str(tmp_path)) is None


# --- malformed files ------------------------------------------------------------------


def test_malformed_files_are_ignored_not_fatal(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "[project\ndependencies = [keras==3\n")
    _write(tmp_path, "setup.cfg", "no section header\n[options]\n[options]\n")
    (tmp_path / "requirements.txt").write_bytes(b"\xff\xfe keras===\n==3\n[\x00\nkeras>=\n")
    _write(tmp_path, "environment.yml", "dependencies:\n  - [\n  -\n  - ::\n")
    assert project_flavour(str(tmp_path)) is None


def test_malformed_pyproject_does_not_hide_other_files(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "this is = not [toml\n")
    _write(tmp_path, "requirements.txt", "keras==3.8.0\n")
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None and flavour.reason == "keras==3.8.0 in requirements.txt"


def test_unexpected_toml_shapes_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml",
           '[project]\ndependencies = "keras==3"\noptional-dependencies = 3\n'
           '[tool]\npoetry = "x"\n[dependency-groups]\ndev = [{include-group = "x"}, 1]\n')
    assert project_flavour(str(tmp_path)) is None


def test_a_directory_named_like_a_requirements_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "requirements-gpu.txt").mkdir()
    assert project_flavour(str(tmp_path)) is None
