"""The one exception type the CLI turns into a one-line error and exit code."""


class ModelwatchError(Exception):
    """A failure the user can act on; its message is one line."""

    exit_code = 1


class ConfigError(ModelwatchError):
    exit_code = 2
