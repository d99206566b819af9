"""Bad CLI input is refused before anything is touched."""

import pytest

from kubedrill import cli
from kubedrill.errors import ConfigError
from kubedrill.local import lifecycle


@pytest.mark.parametrize(
    "argv",
    [
        ["up", "--control-planes", "2"],
        ["up", "--control-planes", "three"],
        ["up", "--workers", "-1"],
        ["up", "--workers", "many"],
        ["up", "--bogus"],
        ["status", "--output", "yaml"],
        ["frobnicate"],
    ],
)
def test_bad_flags_exit_2_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_shape_is_validated_before_anything_else() -> None:
    with pytest.raises(ConfigError, match="control-planes: expected 1, 3 or 5"):
        lifecycle.validate_shape(4, 3)
    with pytest.raises(ConfigError, match="workers"):
        lifecycle.validate_shape(3, 51)
