"""The one exception type that the command line turns into a one-line error."""


class SpikeportError(Exception):
    """A user-facing error: bad input, a missing file, an unsupported layer.

    The message is printed as one line (``spikeport: error: ...``) and the command
    exits with status 2; it should name the file, layer or field at fault.
    """
