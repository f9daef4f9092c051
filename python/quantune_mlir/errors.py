"""The one exception type the CLI turns into a one-line message."""


class QuantuneError(Exception):
    """A problem with the user's input or environment.

    The CLI prints ``quantune: error: <message>`` and exits with status 2.
    Messages are one line and name the file, input or op at fault.
    """

    exit_code = 2


def first_line(text: str) -> str:
    """Returns the first non-empty line of ``text``, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()
